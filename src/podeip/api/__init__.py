"""podeip.api."""
