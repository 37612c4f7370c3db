"""We test these aspects of the API client over real loopback HTTP: the verbs send the right
method, content type, query and JSON; Status replies become the narrowest error class (409 split
by reason); 429 is retried for every verb honouring Retry-After while 5xx is retried only for
reads, and retries are bounded; lists follow continue tokens and fill in kind/apiVersion;
the bearer token is sent, and after a 401 the credential is loaded again once (a rotated token
file is read, an exec plugin runs again); every attempt is counted by
verb, resource and code; paths map to resource labels."""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from podeip.k8s import errors
from podeip.k8s.client import KubeClient, resource_of
from podeip.k8s.connection import TOKEN_FILE_PERIOD, Identity, KubeConnection, load_connection
from podeip.observability.metrics import Metrics
from unit.k8s.fakeapi import FakeApi, Seen, status_body

POD = "/api/v1/namespaces/ns/pods/p"


def requests_counted(metrics: Metrics, *, verb: str, resource: str, code: str) -> float:
    value = metrics.registry.get_sample_value(
        "podeip_kube_api_requests_total", {"verb": verb, "resource": resource, "code": code}
    )
    return value or 0.0


async def test_get_returns_the_json_body_and_sends_the_bearer_token(
    fake_api: FakeApi, client: KubeClient
) -> None:
    fake_api.reply(200, {"metadata": {"name": "p"}})
    assert await client.get(POD) == {"metadata": {"name": "p"}}
    assert fake_api.requests[0].method == "GET"
    assert fake_api.requests[0].headers["Authorization"] == "Bearer static-token"


@pytest.mark.parametrize(
    ("patch_type", "content_type"),
    [
        ("merge", "application/merge-patch+json"),
        ("strategic", "application/strategic-merge-patch+json"),
        ("json", "application/json-patch+json"),
    ],
)
async def test_patch_sends_the_content_type_of_its_patch_type(
    fake_api: FakeApi, client: KubeClient, patch_type: str, content_type: str
) -> None:
    await client.patch(POD, {"a": 1}, patch_type=patch_type)  # type: ignore[arg-type]
    assert fake_api.requests[0].method == "PATCH"
    assert fake_api.requests[0].headers["Content-Type"] == content_type
    assert fake_api.requests[0].body == {"a": 1}


async def test_delete_with_preconditions_sends_delete_options(fake_api: FakeApi, client: KubeClient) -> None:
    await client.delete(POD, preconditions={"uid": "u1", "resourceVersion": "7"})
    assert fake_api.requests[0].method == "DELETE"
    assert fake_api.requests[0].body == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "preconditions": {"uid": "u1", "resourceVersion": "7"},
    }


async def test_create_and_put_send_post_and_put(fake_api: FakeApi, client: KubeClient) -> None:
    await client.create("/api/v1/namespaces/ns/pods", {"x": 1})
    await client.put(POD, {"x": 2})
    assert [(r.method, r.body) for r in fake_api.requests] == [("POST", {"x": 1}), ("PUT", {"x": 2})]


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (404, "NotFound", errors.NotFound),
        (409, "AlreadyExists", errors.AlreadyExists),
        (409, "Conflict", errors.Conflict),
        (401, "Unauthorized", errors.Unauthorized),
        (403, "Forbidden", errors.Forbidden),
        (422, "Invalid", errors.Invalid),
        (400, "BadRequest", errors.ApiError),
    ],
)
async def test_status_replies_become_the_narrowest_error_class(
    fake_api: FakeApi, client: KubeClient, code: int, reason: str, expected: type[errors.ApiError]
) -> None:
    fake_api.reply(code, status_body(code, reason, "details here"))
    if code == 401:  # a 401 loads the credential again and repeats the request once
        fake_api.reply(code, status_body(code, reason, "details here"))
    with pytest.raises(expected) as caught:
        await client.create("/api/v1/namespaces/ns/pods", {})
    assert type(caught.value) is expected
    assert (caught.value.status, caught.value.reason, caught.value.message) == (code, reason, "details here")


async def test_already_exists_is_not_caught_as_conflict(fake_api: FakeApi, client: KubeClient) -> None:
    fake_api.reply(409, status_body(409, "AlreadyExists"))
    with pytest.raises(errors.ApiError) as caught:
        await client.create("/api/v1/namespaces/ns/pods", {})
    assert not isinstance(caught.value, errors.Conflict)


async def test_throttled_writes_are_retried_after_the_retry_after_delay(
    fake_api: FakeApi, client: KubeClient, metrics: Metrics
) -> None:
    fake_api.reply(429, status_body(429, "TooManyRequests"), {"Retry-After": "0"})
    fake_api.reply(201, {"metadata": {"name": "p"}})
    assert await client.create("/api/v1/namespaces/ns/pods", {}) == {"metadata": {"name": "p"}}
    assert len(fake_api.requests) == 2
    assert requests_counted(metrics, verb="create", resource="pods", code="429") == 1
    assert requests_counted(metrics, verb="create", resource="pods", code="201") == 1


async def test_server_errors_are_retried_for_reads(fake_api: FakeApi, client: KubeClient) -> None:
    fake_api.reply(503, status_body(503, "ServiceUnavailable"))
    fake_api.reply(500, status_body(500, "InternalError"))
    fake_api.reply(200, {"ok": True})
    assert await client.get(POD) == {"ok": True}
    assert len(fake_api.requests) == 3


async def test_server_errors_are_not_retried_for_writes(fake_api: FakeApi, client: KubeClient) -> None:
    fake_api.reply(500, status_body(500, "InternalError", "etcd timeout"))
    with pytest.raises(errors.Unavailable):
        await client.patch(POD, {}, patch_type="merge")
    assert len(fake_api.requests) == 1


async def test_retries_are_bounded(fake_api: FakeApi, client: KubeClient) -> None:
    for _ in range(10):
        fake_api.reply(503, status_body(503, "ServiceUnavailable"))
    with pytest.raises(errors.Unavailable):
        await client.get(POD)
    # The first attempt plus three retries (the default).
    assert len(fake_api.requests) == 4


async def test_a_refused_connection_raises_unavailable_after_retries(
    metrics: Metrics, unused_tcp_port: int
) -> None:
    connection = KubeConnection.fixed(Identity(server=f"http://127.0.0.1:{unused_tcp_port}"))
    async with KubeClient(connection, qps=100, burst=100, metrics=metrics, backoff_cap_seconds=0.001) as kube:
        with pytest.raises(errors.Unavailable) as caught:
            await kube.create("/api/v1/namespaces/ns/pods", {})
    assert caught.value.status == 0
    assert requests_counted(metrics, verb="create", resource="pods", code="error") == 4


async def test_list_follows_continue_tokens_and_fills_in_kind(fake_api: FakeApi, client: KubeClient) -> None:
    fake_api.reply(
        200,
        {
            "kind": "PodList",
            "apiVersion": "v1",
            "metadata": {"continue": "tok"},
            "items": [{"metadata": {"name": "a"}}],
        },
    )
    fake_api.reply(
        200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [{"metadata": {"name": "b"}}]}
    )
    items = await client.list("/api/v1/pods", label_selector="app=x", field_selector="spec.nodeName=n")
    assert [(i["kind"], i["apiVersion"], i["metadata"]["name"]) for i in items] == [
        ("Pod", "v1", "a"),
        ("Pod", "v1", "b"),
    ]
    first, second = fake_api.requests
    assert first.query == {"limit": "500", "labelSelector": "app=x", "fieldSelector": "spec.nodeName=n"}
    assert second.query["continue"] == "tok"


def kubeconfig_for(server: str, path: Path, user: dict[str, object]) -> Path:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    return path


def accept_only(token: str) -> Callable[[Seen], Awaitable[web.Response]]:
    async def handler(seen: Seen) -> web.Response:
        if seen.headers.get("Authorization") == f"Bearer {token}":
            return web.json_response({"ok": True})
        return web.json_response(status_body(401, "Unauthorized"), status=401)

    return handler


async def test_a_rotated_token_file_is_read_again_after_a_401(
    fake_api: FakeApi, metrics: Metrics, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("old-token\n")
    path = kubeconfig_for(fake_api.server, tmp_path / "config", {"tokenFile": str(token_file)})
    fake_api.handler = accept_only("new-token")
    async with KubeClient(load_connection(path, env={}), qps=100, burst=100, metrics=metrics) as kube:
        with pytest.raises(errors.Unauthorized):
            await kube.get(POD)
        token_file.write_text("new-token\n")
        assert await kube.get(POD) == {"ok": True}
    sent = [seen.headers.get("Authorization") for seen in fake_api.requests]
    # The old token twice (the second after a reload that still read it), then the new one.
    assert sent == ["Bearer old-token", "Bearer old-token", "Bearer old-token", "Bearer new-token"]


async def test_a_token_file_is_read_again_when_due_before_any_401(
    fake_api: FakeApi, metrics: Metrics, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("first")
    path = kubeconfig_for(fake_api.server, tmp_path / "config", {"tokenFile": str(token_file)})
    now = [datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)]
    connection = load_connection(path, env={}, clock=lambda: now[0])
    async with KubeClient(connection, qps=100, burst=100, metrics=metrics) as kube:
        await kube.get(POD)
        token_file.write_text("second")  # rotated; the old token still works for a while
        await kube.get(POD)
        now[0] += TOKEN_FILE_PERIOD
        await kube.get(POD)
    assert [seen.headers.get("Authorization") for seen in fake_api.requests] == [
        "Bearer first",
        "Bearer first",
        "Bearer second",
    ]


async def test_an_exec_plugin_runs_again_after_a_401(
    fake_api: FakeApi, metrics: Metrics, tmp_path: Path
) -> None:
    script = tmp_path / "plugin.py"
    script.write_text(
        "import json, sys\n"
        "from pathlib import Path\n"
        "counter = Path(sys.argv[1])\n"
        "runs = int(counter.read_text()) + 1 if counter.exists() else 1\n"
        "counter.write_text(str(runs))\n"
        'print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",'
        ' "status": {"token": f"exec-{runs}"}}))\n'
    )
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": sys.executable,
            "args": [str(script), str(tmp_path / "runs")],
        }
    }
    path = kubeconfig_for(fake_api.server, tmp_path / "config", user)
    fake_api.handler = accept_only("exec-2")  # the server revoked the first credential
    async with KubeClient(load_connection(path, env={}), qps=100, burst=100, metrics=metrics) as kube:
        assert await kube.get(POD) == {"ok": True}
        assert await kube.get(POD) == {"ok": True}
    assert [seen.headers.get("Authorization") for seen in fake_api.requests] == [
        "Bearer exec-1",
        "Bearer exec-2",
        "Bearer exec-2",
    ]
    assert (tmp_path / "runs").read_text() == "2"


@pytest.mark.parametrize(
    ("path", "resource"),
    [
        ("/api/v1/namespaces/ns/pods/p", "pods"),
        ("/api/v1/namespaces/ns/pods/p/status", "pods/status"),
        ("/api/v1/pods", "pods"),
        ("/api/v1/namespaces/ns", "namespaces"),
        ("/apis/alibabacloud.com/v1beta1/namespaces/ns/podeips", "podeips"),
        ("/apis/alibabacloud.com/v1beta1/namespaces/ns/podeips/x/status", "podeips/status"),
        ("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l", "leases"),
        ("/api/v1/namespaces/ns/events/e?x=1", "events"),
    ],
)
def test_paths_map_to_resource_labels(path: str, resource: str) -> None:
    assert resource_of(path) == resource
