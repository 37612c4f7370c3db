"""The Alibaba provider over the official SDK (the only package that imports it)."""
