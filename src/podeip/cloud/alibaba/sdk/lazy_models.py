"""The SDKs' ``models`` packages, loaded one model at a time instead of all at once.

``alibabacloud_vpc20160428.models`` and ``alibabacloud_ecs20140526.models`` import every model
of their service in their ``__init__`` (some 1,200 files each, 2,000 classes), and each client
module imports its package's ``models``: importing the two clients cost 30 MiB of RSS, a
quarter of the operator's memory at rest, for the twenty or so classes that our ten actions use
(measured: ``import podeip.app`` plus the SDK provider, 116 MiB → 86 MiB of RSS).

:func:`install` puts in ``sys.modules`` a ``models`` package whose attributes are found from
the generated ``__init__`` (read as text, one ``from ._module import Class`` per line) and
imported on first use (PEP 562 ``__getattr__``); the model modules and the clients are the SDK's
own, unchanged, and reach each other through ``main_models.Name`` at call time as before. If the
``__init__`` does not have that shape (another SDK generation), the package is left to load
as usual: slower and heavier, never different.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import types
from pathlib import Path
from typing import Any

#: Every SDK package whose ``models`` is made lazy (before its client is imported).
PACKAGES = ("alibabacloud_vpc20160428", "alibabacloud_ecs20140526")

_IMPORT_LINE = re.compile(r"^from \.(\w+) import (\w+)$", re.MULTILINE)


def install(package: str) -> bool:
    """Make ``package.models`` lazy; False when it is loaded already or has another shape."""
    name = f"{package}.models"
    if name in sys.modules:
        return False
    spec = importlib.util.find_spec(name)  # imports ``package`` itself (a version string)
    if spec is None or spec.origin is None or spec.submodule_search_locations is None:
        return False
    source = Path(spec.origin).read_text(encoding="utf-8")
    table = {cls: module for module, cls in _IMPORT_LINE.findall(source)}
    imports = sum(1 for line in source.splitlines() if line.startswith("from ."))
    if not table or imports != len(table):  # a line we would not understand: load it all
        return False
    models = types.ModuleType(name, "The SDK's models, each imported on first use (podeip lazy_models).")
    models.__spec__ = spec
    models.__file__ = spec.origin
    models.__path__ = list(spec.submodule_search_locations)
    models.__package__ = name
    models.__dict__["__all__"] = list(table)

    def __getattr__(attr: str) -> Any:
        try:
            module = table[attr]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None
        value = getattr(importlib.import_module(f"{name}.{module}"), attr)
        setattr(models, attr, value)
        return value

    models.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[name] = models
    sys.modules[package].models = models  # type: ignore[attr-defined]
    return True


def install_all() -> None:
    for package in PACKAGES:
        install(package)
