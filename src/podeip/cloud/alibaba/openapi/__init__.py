"""Alibaba Cloud OpenAPI dialect: operations, wire shapes and the error table (no SDK)."""
