"""The Alibaba provider over the official SDK (the only package that imports it).

Before any module here imports an SDK client, the SDKs' ``models`` packages are made lazy
(``lazy_models``: 30 MiB of RSS less for the operator)."""

from podeip.cloud.alibaba.sdk import lazy_models

lazy_models.install_all()
