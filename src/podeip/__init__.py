"""podeip-operator: a Kubernetes operator that gives pods their own Alibaba Cloud Elastic IP."""

__version__ = "0.1.0"
