"""podeip.cloud.alibaba."""
