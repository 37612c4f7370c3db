"""podeip.k8s."""
