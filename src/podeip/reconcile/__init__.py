"""podeip.reconcile."""
