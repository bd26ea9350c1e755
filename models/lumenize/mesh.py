"""Mesh objects that talk to clients: a document broadcaster and a mesh node.

Both reach a client the way a real mesh DO does: ``__executeOperation`` on the client's
gateway (``gateway/<instanceName>``), answered ``{$result}`` or ``{$error}`` possibly much
later (a call parked during grace). Neither adds a timeout of its own (spec section 1.5,
"callers add no timeout").

:class:`DocumentBroadcaster` is the Nebula pattern of cases 85, 86 and 93: clients call
``subscribe()`` through their gateway and get the current document; every change is fanned
out as ``handleUpdate(content, version)`` to each subscriber row; a row whose delivery fails
with ``ClientDisconnectedError`` is dropped ("drop-on-failed-fanout", case 86). Dropping a
row silently is the weakness of section 6 ("silent subscription loss"); fix
``resubscribe_after_fanout_drop`` tells the client's gateway so the client resubscribes.
"""

from __future__ import annotations

from typing import Any

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.messages import (
    Effect,
    HttpFailed,
    HttpRequest,
    HttpRequestReceived,
    HttpRespond,
    HttpResponse,
    Input,
    Note,
    StorageDelete,
    StoragePut,
)
from gatewaysim.simulator.node import HostContext, Node

from . import protocol as p
from .config import LumenizeConfig

ROW_KEY = "subscriber:"  # subscriber:<instanceName> -> True (durable rows)


def client_callee(instance_name: str) -> dict[str, Any]:
    return {"type": "LumenizeClient", "bindingName": p.DEFAULT_BINDING,
            "instanceName": instance_name}


class _MeshObject(Node):
    """Shared plumbing: outgoing ``__executeOperation`` calls to client gateways."""

    binding = "MESH"

    def __init__(self, ctx: HostContext, config: LumenizeConfig) -> None:
        super().__init__(ctx)
        self.config = config
        self._requests = 0

    @property
    def identity(self) -> dict[str, Any]:
        return {"type": "LumenizeDO", "bindingName": self.binding, "instanceName": self.address}

    def call_client(self, instance_name: str, method: str, args: list) -> tuple[str, HttpRequest]:
        self._requests += 1
        req = f"{self.address}#{self.ctx.incarnation}:rpc{self._requests}"
        env = p.envelope({"method": method, "args": list(args)},
                         {"callChain": [self.identity], "originAuth": None, "state": {}},
                         self.identity, client_callee(instance_name))
        return req, HttpRequest(req, p.gateway_address(instance_name), p.RPC_METHOD,
                                p.EXECUTE_OPERATION, body=env)


class DocumentBroadcaster(_MeshObject):
    """A document DO at ``doc/<name>``: ``subscribe``, ``unsubscribe``, ``update``, fan-out."""

    binding = p.DOCUMENT_BINDING

    def __init__(self, ctx: HostContext, config: LumenizeConfig) -> None:
        super().__init__(ctx, config)
        # Memory mirrors of durable storage, reloaded on every boot (crash keeps storage).
        self.content: str = ctx.storage.get("content", "")
        self.version: int = ctx.storage.get("version", 0)
        self.rows: set[str] = {k.removeprefix(ROW_KEY) for k in ctx.storage
                               if k.startswith(ROW_KEY)}
        self.fanouts: dict[str, tuple[str, int]] = {}  # req -> (instanceName, version)

    @property
    def subscribers(self) -> list[str]:
        return sorted(self.rows)

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case p.Publish(content=content):
                return self._update(content)
            case HttpRequestReceived(req=req, path=p.EXECUTE_OPERATION, body=body):
                return self._execute(req, body)
            case HttpRequestReceived(req=req):
                return [HttpRespond(req, 404, p.rpc_error(p.error_value("Error", "Not Found")))]
            case HttpResponse(req=req, status=status, body=body):
                return self._fanout_settled(req, *p.unwrap_rpc(status, body))
            case HttpFailed(req=req, reason=reason):
                return self._fanout_settled(req, False, p.error_value("Error", reason))
        return []

    def _execute(self, req: str, body: Any) -> list[Effect]:
        env = body if isinstance(body, dict) else {}
        if env.get("version") != 1:
            return [HttpRespond(req, 200, p.rpc_error(p.error_value(
                "Error", f"Unsupported RPC envelope version: {env.get('version')}")))]
        chain = env.get("chain") or {}
        method, args = chain.get("method"), list(chain.get("args") or [])
        chain0 = ((env.get("callContext") or {}).get("callChain") or [{}])[0]
        caller = chain0.get("instanceName") if isinstance(chain0, dict) else None
        effects: list[Effect] = []
        if method == "subscribe" and caller:
            if caller not in self.rows:
                self.rows.add(caller)
                effects += [StoragePut(ROW_KEY + caller, True),
                            Note("subscriber.added", {"instanceName": caller,
                                                      "reason": "subscribe"})]
            result: Any = {"content": self.content, "version": self.version}
            if self.config.mutant("subscribe_snapshot_empty"):
                result = {"content": "", "version": 0}  # the document is never loaded
        elif method == "unsubscribe" and caller:
            if not self.config.mutant("unsubscribe_keeps_row"):
                effects += self._drop_row(caller, "unsubscribe")
            result = True
        elif method == "update" and args:
            effects += self._update(str(args[0]))
            result = self.version
        else:
            return [HttpRespond(req, 200, p.rpc_error(p.error_value(
                "Error", f"Unknown method: {method}")))]
        return [*effects, HttpRespond(req, 200, p.rpc_result(result))]

    def _update(self, content: str) -> list[Effect]:
        self.content = content
        self.version += 1
        effects: list[Effect] = [StoragePut("content", content),
                                 StoragePut("version", self.version)]
        targets = self.subscribers
        effects.append(Note("fanout", {"version": self.version, "content": content,
                                        "targets": targets}))
        for name in targets:
            req, request = self.call_client(name, "handleUpdate",
                                            [content, self._fanout_version()])
            self.fanouts[req] = (name, self.version)
            effects.append(request)
        return effects

    def _fanout_version(self) -> int:
        """The version a fan-out carries: the document's (mutant fanout_version_stale: the
        one before the update)."""
        if self.config.mutant("fanout_version_stale"):
            return self.version - 1
        return self.version

    def _drop_row(self, name: str, reason: str) -> list[Effect]:
        if name not in self.rows:
            return []
        self.rows.discard(name)
        if self.config.mutant("row_drop_unreported"):
            return [StorageDelete(ROW_KEY + name)]
        return [StorageDelete(ROW_KEY + name),
                Note("subscriber.dropped", {"instanceName": name, "reason": reason})]

    def _fanout_settled(self, req: str, ok: bool, value: Any) -> list[Effect]:
        target = self.fanouts.pop(req, None)
        if target is None or ok:
            return []
        name, _version = target
        if not (isinstance(value, dict) and value.get("name") == p.CLIENT_DISCONNECTED_ERROR):
            return []  # a transport error keeps the row; only ClientDisconnectedError drops
        effects = self._drop_row(name, str(value.get("message")))
        if effects and self.config.fixed("resubscribe_after_fanout_drop"):
            # Section 6 "silent subscription loss": tell the client's gateway, so the client
            # hears subscriptionRequired: true now or at its next connection.
            self._requests += 1
            lost = f"{self.address}#{self.ctx.incarnation}:lost{self._requests}"
            effects.append(HttpRequest(lost, p.gateway_address(name), p.RPC_METHOD,
                                       p.SUBSCRIPTION_LOST, body={"resource": self.address}))
        return effects

    def statistics(self) -> dict[str, Any]:
        return {"subscribers": self.subscribers, "version": self.version,
                "content": self.content}

    def __repr__(self) -> str:
        return f"DocumentBroadcaster({self.address!r}, version={self.version})"


class MeshNode(_MeshObject):
    """A mesh DO at ``node/<name>`` that calls clients' ``@mesh`` methods (``CallClient``)."""

    binding = "MESH_NODE"

    def __init__(self, ctx: HostContext, config: LumenizeConfig) -> None:
        super().__init__(ctx, config)
        self.waiting: dict[str, tuple[str, str]] = {}  # req -> (tag, instanceName)
        self.results: list[dict[str, Any]] = []

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case p.CallClient(instance_name=name, method=method, args=args, tag=tag):
                req, request = self.call_client(name, method, args)
                self.waiting[req] = (tag, name)
                return [Note("mesh_call.sent", {"tag": tag, "instanceName": name,
                                                "method": method}), request]
            case HttpResponse(req=req, status=status, body=body):
                return self._settled(req, *p.unwrap_rpc(status, body))
            case HttpFailed(req=req, reason=reason):
                return self._settled(req, False, p.error_value("Error", reason))
            case HttpRequestReceived(req=req):
                return [HttpRespond(req, 200, p.rpc_error(p.error_value(
                    "Error", "MeshNode has no callable methods")))]
        return []

    def _settled(self, req: str, ok: bool, value: Any) -> list[Effect]:
        waiting = self.waiting.pop(req, None)
        if waiting is None:
            return []
        tag, name = waiting
        data = {"tag": tag, "instanceName": name, "ok": ok, "value" if ok else "error": value}
        self.results.append(data)
        return [Note("mesh_call.result", data)]

    def statistics(self) -> dict[str, Any]:
        return {"waiting": len(self.waiting), "results": list(self.results)}
