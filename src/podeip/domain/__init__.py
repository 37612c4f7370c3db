"""podeip.domain."""
