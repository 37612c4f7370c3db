"""podeip.simulator."""
