"""podeip.cloud.simulated."""
