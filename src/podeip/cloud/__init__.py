"""podeip.cloud."""
