"""The HTTP front of the simulated cloud: Alibaba's OpenAPI wire protocol on loopback.

The official SDK, pointed at ``127.0.0.1:<port>`` with ``protocol='http'``, talks to this
front exactly as it talks to ``vpc.<region>.aliyuncs.com``: ``POST /`` with the parameters in
the query string, action and version in ``x-acs-*`` headers, an ACS3 (or legacy V2)
signature; answers are JSON objects, errors carry ``Code``/``Message``/``RequestId``/
``HostId``/``Recommend`` with Alibaba's HTTP statuses (docs/alibaba-api.md §7, §12). A lost
answer (commit-then-drop) closes the connection without a response. ``/_sim/*`` endpoints
let tests, the demo and benchmarks read and steer the engine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web

from podeip.cloud import errors
from podeip.cloud.alibaba.openapi import codes, wire
from podeip.simulator import signing
from podeip.simulator.engine import ACTIONS, ECS_VERSION, Engine
from podeip.simulator.faults import Fault

ENGINE: Final = web.AppKey("engine", Engine)
SECRETS: Final = web.AppKey[Mapping[str, str]]("secrets")
HOSTS: Final = {ECS_VERSION: "ecs.aliyuncs.com"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(engine: Engine, *, credentials: Mapping[str, str]) -> web.Application:
    """The aiohttp application; ``credentials`` maps AccessKey IDs to secrets."""
    app = web.Application(middlewares=[_loopback_only])
    app[ENGINE] = engine
    app[SECRETS] = dict(credentials)
    app.router.add_route("POST", "/", _openapi)
    app.router.add_route("GET", "/", _openapi)
    app.router.add_get("/_sim/eips", _eips)
    app.router.add_post("/_sim/eips", _seed_eip)
    app.router.add_get("/_sim/calls", _calls)
    app.router.add_get("/_sim/enis", _enis)
    app.router.add_post("/_sim/enis", _add_eni)
    app.router.add_post("/_sim/bandwidth-packages", _add_package)
    app.router.add_post("/_sim/faults", _add_fault)
    app.router.add_delete("/_sim/faults", _clear_faults)
    app.router.add_post("/_sim/reset", _reset)
    return app


@web.middleware
async def _loopback_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    remote = request.remote or ""
    if not ipaddress.ip_address(remote.split("%")[0]).is_loopback:
        raise web.HTTPForbidden(text="the simulator answers loopback clients only")
    return await handler(request)


async def _openapi(request: web.Request) -> web.StreamResponse:
    engine = request.app[ENGINE]
    # Form-decode first, then the signature re-encodes canonically (docs/alibaba-api.md §7.2).
    params = dict(parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True))
    body = await request.read()
    if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded" and body:
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
        body = b""
    headers = {key.lower(): value for key, value in request.headers.items()}
    action = headers.get("x-acs-action") or params.get("Action", "")
    version = headers.get("x-acs-version") or params.get("Version", "")
    host = HOSTS.get(version, "vpc.aliyuncs.com")
    try:
        if signing.is_v2(params):
            signing.verify_v2(method=request.method, params=params, secrets=request.app[SECRETS])
            params = signing.business_params(params)
        else:
            signing.verify_acs3(
                method=request.method, params=params, headers=headers, body=body, secrets=request.app[SECRETS]
            )
        if action not in ACTIONS.get(version, frozenset()):
            raise codes.error_for(codes.ACTION_NOT_FOUND, message=f"{action} {version} is not supported")
        ticket = engine.begin(action)
        if ticket.latency > 0:
            await asyncio.sleep(ticket.latency)
        answer = engine.handle(action, params, ticket=ticket)
    except errors.Transport:
        # The change (if any) is made; the client never hears about it.
        if request.transport is not None:
            request.transport.close()
        raise web.HTTPInternalServerError() from None
    except errors.CloudError as error:
        return _error(error, host=host)
    return web.json_response(answer)


def _error(error: errors.CloudError, *, host: str) -> web.Response:
    code = error.code or codes.INTERNAL_ERROR
    body = {
        "RequestId": error.request_id or str(uuid.uuid4()).upper(),
        "HostId": host,
        "Code": code,
        "Message": error.message,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}",
    }
    headers = {"x-acs-retry-after": str(int(error.retry_after * 1000))} if error.retry_after else None
    return web.json_response(body, status=codes.http_status(code), headers=headers)


async def _eips(request: web.Request) -> web.Response:
    return web.json_response([wire.eip_to_map(eip) for eip in request.app[ENGINE].eips()])


async def _calls(request: web.Request) -> web.Response:
    return web.json_response([asdict(call) for call in request.app[ENGINE].call_log()])


async def _enis(request: web.Request) -> web.Response:
    return web.json_response([eni.model_dump() for eni in request.app[ENGINE].eni_views()])


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json() if request.can_read_body else {}
    except json.JSONDecodeError:
        raise web.HTTPBadRequest(text="the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return data


async def _seed_eip(request: web.Request) -> web.Response:
    """Create an EIP directly: ``{"tags": {...}, "instance_id": "i-…", "instance_type": "EcsInstance"}``."""
    data = await _json(request)
    try:
        eip = request.app[ENGINE].seed_eip(**data)
    except TypeError as error:
        raise web.HTTPBadRequest(text=str(error)) from None
    return web.json_response(wire.eip_to_map(eip))


async def _add_eni(request: web.Request) -> web.Response:
    data = await _json(request)
    data["private_ips"] = tuple(data.get("private_ips", ()))
    try:
        eni = request.app[ENGINE].add_eni(**data)
    except TypeError as error:
        raise web.HTTPBadRequest(text=str(error)) from None
    return web.json_response(eni.model_dump())


async def _add_package(request: web.Request) -> web.Response:
    data = await _json(request)
    cbwp_id = request.app[ENGINE].add_bandwidth_package(
        cbwp_id=data.get("cbwp_id"), isp=data.get("isp", "BGP")
    )
    return web.json_response({"BandwidthPackageId": cbwp_id})


async def _add_fault(request: web.Request) -> web.Response:
    """Add a rule: ``{"spec": "AllocateEipAddress:drop"}`` or the ``Fault`` fields as JSON."""
    data = await _json(request)
    try:
        fault = Fault.parse(data["spec"]) if "spec" in data else Fault(**data)
    except (TypeError, ValueError, KeyError) as error:
        raise web.HTTPBadRequest(text=str(error)) from None
    request.app[ENGINE].faults.add(fault)
    return web.json_response(asdict(fault))


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[ENGINE].faults.clear()
    return web.json_response({})


async def _reset(request: web.Request) -> web.Response:
    request.app[ENGINE].reset()
    return web.json_response({})
