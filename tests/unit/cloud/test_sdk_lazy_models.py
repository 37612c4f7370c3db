"""We test these aspects: the SDKs' ``models`` packages loaded one model at a time.

In a fresh interpreter (the packages are process-wide): importing the SDK provider loads a few
model modules, not the thousand of each package; every class the generated ``__init__`` names
resolves lazily to the very class an eager import gives, including the nested models that a
response's ``from_map`` reaches only at call time; a name the SDK does not have is an
AttributeError as before.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from podeip.cloud.alibaba.sdk import lazy_models


def run(code: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", f"PACKAGES = {lazy_models.PACKAGES!r}\n" + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(result.stdout))


def test_the_provider_loads_only_the_models_its_actions_use() -> None:
    out = run(
        """
        import json, sys
        import podeip.cloud.alibaba.sdk.provider
        loaded = {p: sum(m.startswith(p + ".models.") for m in sys.modules) for p in PACKAGES}
        print(json.dumps(loaded))
        """
    )
    for package, count in out.items():
        assert 0 < int(count) < 50, (package, count)  # eagerly: over 1,100 each


def test_every_model_resolves_to_the_class_an_eager_import_gives() -> None:
    eager = run(  # nothing of podeip imported: the SDK as it ships
        """
        import importlib, json
        out = {}
        for package in PACKAGES:
            models = importlib.import_module(package + ".models")
            out[package] = {n: v.__module__ for n, v in vars(models).items() if isinstance(v, type)}
        print(json.dumps(out))
        """
    )
    lazy = run(
        """
        import importlib, json, sys
        import podeip.cloud.alibaba.sdk
        out = {}
        for package in PACKAGES:
            models = sys.modules[package + ".models"]
            assert not hasattr(models, "DaraModel")  # nothing loaded beyond what was asked
            out[package] = {n: getattr(models, n).__module__ for n in models.__all__}
        print(json.dumps(out))
        """
    )
    for package in lazy_models.PACKAGES:
        assert lazy[package] == eager[package]
        assert len(eager[package]) > 1000  # type: ignore[arg-type]


def test_a_response_body_fills_its_nested_models_and_unknown_names_raise() -> None:
    out = run(
        """
        import json
        import podeip.cloud.alibaba.sdk
        from alibabacloud_vpc20160428 import models
        body = models.DescribeEipAddressesResponseBody().from_map(
            {"EipAddresses": {"EipAddress": [{"AllocationId": "eip-1", "Status": "InUse"}]}, "TotalCount": 1}
        )
        first = body.eip_addresses.eip_address[0]
        try:
            models.NoSuchModel
            missing = "no error"
        except AttributeError as error:
            missing = str(error)
        print(json.dumps({"type": type(first).__name__, "id": first.allocation_id,
                          "map": body.to_map(), "missing": missing}))
        """
    )
    assert out["type"] == "DescribeEipAddressesResponseBodyEipAddressesEipAddress"
    assert out["id"] == "eip-1"
    assert out["map"] == {
        "EipAddresses": {"EipAddress": [{"AllocationId": "eip-1", "Status": "InUse"}]},
        "TotalCount": 1,
    }
    assert "NoSuchModel" in str(out["missing"])
