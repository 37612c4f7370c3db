"""podeip.controllers."""
