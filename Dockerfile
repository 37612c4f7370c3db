# syntax=docker/dockerfile:1
# podeip-operator image: a virtualenv built in one stage and copied onto a clean slim Python.
# The final image has no compilers, no pip and no source tree; it runs as UID 65532.
#
# Release builds pin the base by digest (the index digest, so that every platform resolves):
#   docker buildx imagetools inspect python:3.11-slim-bookworm
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<digest> .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# Offline builds (the test bed's real node, tests/testbed/node.py): the wheels resolved on the
# host in .local/wheelhouse/ and --build-arg PIP_NO_INDEX=1 --build-arg PIP_FIND_LINKS=/src.
# Unset in release builds, where the glob below matches nothing.
ARG PIP_NO_INDEX
ARG PIP_FIND_LINKS
RUN python -m venv /opt/podeip
WORKDIR /src
# Metadata first, so that the dependency layer is reused while only the source changes.
COPY pyproject.toml README.md* .local/wheelhouse* ./
COPY src ./src
RUN /opt/podeip/bin/pip install . \
 && /opt/podeip/bin/pip uninstall --yes pip setuptools

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="podeip-operator" \
      org.opencontainers.image.description="Per-pod Alibaba Cloud Elastic IPs, compatible with ack-extend-network-controller" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/podeip/bin:$PATH
COPY --from=builder /opt/podeip /opt/podeip
# Numeric, so that Kubernetes can verify runAsNonRoot without a passwd lookup.
USER 65532:65532
WORKDIR /tmp
# /metrics and /healthz.
EXPOSE 9090
ENTRYPOINT ["podeip", "run"]
