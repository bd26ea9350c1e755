"""A raw peer that sends malformed and unexpected requests: the error paths of the edge.

Well-behaved clients never send an upgrade without a token or an RPC envelope of the wrong
version, so the Worker's and the gateway's refusals would never run. :class:`Prober` at
host ``probe/main`` plays a misbehaving peer (a stale script, a curl, a client built
against another version) that holds a genuine access token of user ``sub``, like the
testing client of the real repository. Each :class:`Probe` sends one request named in
:data:`PROBES`; the answer comes back as the kernel's ``WsRejected``/``WsOpened`` or
``HttpResponse`` input, and a socket that opens against all expectation is closed at once.

The prober only states *what it sent*; what the answer must be is the monitor's business
(``lumenize.malformed_input_answered``), read from the spec, not from this file.
"""

from __future__ import annotations

from typing import Any

from attrs import frozen

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.messages import (
    CloseConnection,
    Effect,
    HttpRequest,
    HttpResponse,
    Input,
    Note,
    OpenConnection,
    WsOpened,
)
from gatewaysim.simulator.node import HostContext, Node

from . import protocol as p
from .config import LumenizeConfig

PROBER = "probe/main"

#: Each probe: a short description of the malformed request it sends.
PROBES: dict[str, str] = {
    "unknown_path": "an upgrade to a path outside /gateway/{binding}/{instance}",
    "empty_instance": "an upgrade to /gateway/{binding}/ with no instance name",
    "bad_origin": "an upgrade from an Origin outside the CORS allowlist",
    "no_token": "an upgrade with no lmz.access-token subprotocol",
    "forged_token": "an upgrade whose token has a bad signature",
    "no_upgrade_header": "a request to the gateway route without Upgrade: websocket",
    "instance_without_tab": "an upgrade to instance '<sub>' (no '.tabId')",
    "identity_mismatch": "an upgrade to another user's instance",
    "wrong_audience": "an upgrade whose genuinely signed token names another audience",
    "no_subject": "an upgrade whose genuinely signed token has no sub",
    "envelope_version": "an __executeOperation RPC to a gateway with envelope version 2",
    "unknown_operation": "an RPC to a gateway path it does not serve",
    "worker_unknown_path": "an HTTP request to a Worker path it does not serve",
    "refresh_wrong_method": "a GET (not POST) to the refresh path, with a live cookie",
    "refresh": "a refresh with the prober's own current refresh cookie (rotates it)",
    "replay_refresh": "a refresh replaying the first refresh cookie the prober rotated",
}


@frozen
class Probe(Input):
    """Send the malformed request named ``kind`` (a key of :data:`PROBES`)."""

    kind: str


class Prober(Node):
    """Sends each probe as a raw upgrade or RPC; closes any socket that opens."""

    def __init__(self, ctx: HostContext, config: LumenizeConfig, sub: str,
                 victim: str, refresh_token: str) -> None:
        super().__init__(ctx)
        self.config = config
        self.sub = sub
        self.victim = victim  # another user's instanceName
        # Its own rotating refresh cookie (granted by the world), and the first one it
        # rotated away, which a replay presents again.
        self.refresh_token = refresh_token
        self.rotated: str | None = None
        self._n = 0

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case Probe(kind=kind):
                if kind not in PROBES:
                    raise ValueError(f"unknown probe {kind!r} (known: {', '.join(PROBES)})")
                return self._probe(now, kind)
            case WsOpened(conn=conn):
                return [CloseConnection(conn, p.CLOSE_NORMAL, "probe done")]
            case HttpResponse(status=200, body={"refresh_token": str(token)}):
                self.rotated = self.rotated or self.refresh_token
                self.refresh_token = token
        return []

    def _token(self, now: Time, **claims: Any) -> str:
        now_s = p.now_seconds(now)
        payload = {"sub": self.sub, "iss": p.ISSUER, "aud": p.AUDIENCE, "iat": now_s,
                   "exp": now_s + self.config.access_ttl_s, "emailVerified": True,
                   "adminApproved": True, **claims}
        return p.encode_token({k: v for k, v in payload.items() if v is not None})

    def _probe(self, now: Time, kind: str) -> list[Effect]:
        self._n += 1
        name = f"{self.address}:probe{self._n}"
        own = f"{self.sub}.t1"
        if kind == "worker_unknown_path":
            return [Note("probe.sent", {"kind": kind, "id": name}),
                    HttpRequest(name, p.WORKER, "GET", "/admin/stats")]
        if kind == "refresh_wrong_method":
            # The current cookie: a service that served the GET would rotate it.
            return [Note("probe.sent", {"kind": kind, "id": name}),
                    HttpRequest(name, p.AUTH, "GET", p.REFRESH_PATH,
                                headers={"Cookie": self.refresh_token})]
        if kind in ("refresh", "replay_refresh"):
            cookie = self.rotated if kind == "replay_refresh" else self.refresh_token
            if cookie is None:
                return []  # nothing rotated yet: there is nothing to replay
            return [Note("probe.sent", {"kind": kind, "id": name}),
                    HttpRequest(name, p.AUTH, "POST", p.REFRESH_PATH,
                                headers={"Cookie": cookie})]
        if kind in ("envelope_version", "unknown_operation"):
            body = p.envelope({"method": "ping", "args": [name]},
                              {"callChain": [], "originAuth": None, "state": {}},
                              {"type": "LumenizeDO", "bindingName": "PROBE",
                               "instanceName": self.address},
                              {"type": "LumenizeClient", "bindingName": p.DEFAULT_BINDING,
                               "instanceName": own}, version=2 if kind == "envelope_version"
                              else 1)
            path = p.EXECUTE_OPERATION if kind == "envelope_version" else "__noSuchOperation"
            return [Note("probe.sent", {"kind": kind, "id": name}),
                    HttpRequest(name, p.gateway_address(own), p.RPC_METHOD, path, body=body)]
        token = self._token(now, **{"wrong_audience": {"aud": "https://elsewhere.example"},
                                    "no_subject": {"sub": None}}.get(kind, {}))
        if kind == "forged_token":
            token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        instance = {"instance_without_tab": self.sub, "identity_mismatch": self.victim}.get(
            kind, own)
        headers: dict[str, Any] = {"Upgrade": "websocket", "Origin": p.DEFAULT_ORIGIN}
        if kind == "no_upgrade_header":
            del headers["Upgrade"]
        if kind == "bad_origin":
            headers["Origin"] = "https://elsewhere.example"
        protocols = [p.SUBPROTOCOL]
        if kind != "no_token":
            protocols.append(p.TOKEN_PROTOCOL_PREFIX + token)
        path = "/admin/stats" if kind == "unknown_path" else p.upgrade_path(
            p.DEFAULT_BINDING, "" if kind == "empty_instance" else instance)
        request = {"path": path, "headers": headers, "protocols": protocols}
        return [Note("probe.sent", {"kind": kind, "id": name}),
                OpenConnection(name, p.WORKER, request)]

    def __repr__(self) -> str:
        return f"Prober({self.address!r}, sub={self.sub!r})"


__all__ = ["PROBER", "PROBES", "Probe", "Prober"]
