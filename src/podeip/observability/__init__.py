"""podeip.observability."""
