"""What each probe of the prober must be malformed by, read off the request it sent.

``lumenize.malformed_input_answered`` judges the answer to each probe against the spec. An
answer is only evidence if the request was malformed the way the probe names: a prober
that sent a well-formed request under the name ``no_token``, or nothing at all, would make
the edge's refusals untested while the invariant held. :func:`defect_missing` checks the
request itself (the ``OpenConnection`` or ``HttpRequest`` the prober sent), from the
protocol's definitions, not from the prober's code.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from gatewaysim.models.lumenize import protocol as p

Request = dict[str, Any]
"""An upgrade's ``request`` (``path``, ``headers``, ``protocols``), or an HTTP request's
``to``, ``method``, ``path``, ``headers`` and ``body``."""


def _token(request: Request) -> str | None:
    for proto in request.get("protocols") or ():
        if isinstance(proto, str) and proto.startswith(p.TOKEN_PROTOCOL_PREFIX):
            return proto.removeprefix(p.TOKEN_PROTOCOL_PREFIX)
    return None


def _verified(request: Request) -> dict[str, Any] | None:
    token = _token(request)
    try:
        return p.verify_token(token) if token is not None else None
    except p.TokenError:
        return None


def _forged(request: Request) -> bool:
    token = _token(request)
    if token is None:
        return False
    try:
        p.decode_token(token)
    except p.TokenError:
        return False  # not even a token: unreadable, which is another probe's business
    return _verified(request) is None


def _instance(request: Request) -> str | None:
    """The instance name of a ``/gateway/{binding}/{instance}`` path, else ``None``."""
    parts = str(request.get("path", "")).split("/")
    return parts[3] if len(parts) == 4 and parts[1] == "gateway" else None


def _sub(request: Request) -> Any:
    return (_verified(request) or {}).get("sub")


def _rpc(request: Request, path: Callable[[str], bool], version: int) -> bool:
    body = request.get("body")
    return (request.get("method") == p.RPC_METHOD and path(str(request.get("path")))
            and isinstance(body, dict) and body.get("version") == version)


#: Each upgrade probe's defect, as a test of its ``request``.
UPGRADE_DEFECTS: dict[str, Callable[[Request], bool]] = {
    "unknown_path": lambda r: not str(r.get("path", "")).startswith("/gateway/"),
    "empty_instance": lambda r: _instance(r) == "",
    "bad_origin": lambda r: p.header(r.get("headers") or {}, "Origin") != p.DEFAULT_ORIGIN,
    "no_token": lambda r: _token(r) is None,
    "forged_token": _forged,
    "no_upgrade_header": lambda r: p.header(r.get("headers") or {}, "Upgrade") != "websocket",
    "instance_without_tab": lambda r: bool(_sub(r)) and _instance(r) == _sub(r),
    "identity_mismatch": lambda r: bool(_sub(r)) and bool(_instance(r))
    and str(_instance(r)).partition(".")[0] != _sub(r),
    "wrong_audience": lambda r: _verified(r) is not None
    and (_verified(r) or {}).get("aud") != p.AUDIENCE,
    "no_subject": lambda r: _verified(r) is not None and not _sub(r),
}

#: Each HTTP probe's defect, as a test of its request (``rotated``: the refresh cookies
#: the prober has already had rotated away).
HTTP_DEFECTS: dict[str, Callable[[Request, Collection[str]], bool]] = {
    "envelope_version": lambda r, _: r.get("to", "").startswith(p.GATEWAY_PREFIX)
    and _rpc(r, lambda path: path == p.EXECUTE_OPERATION, 2),
    "unknown_operation": lambda r, _: r.get("to", "").startswith(p.GATEWAY_PREFIX)
    and _rpc(r, lambda path: path not in (p.EXECUTE_OPERATION, p.SUBSCRIPTION_LOST), 1),
    "worker_unknown_path": lambda r, _: r.get("to") == p.WORKER
    and r.get("path") not in (p.EXECUTE_OPERATION, p.REFRESH_PATH)
    and not str(r.get("path", "")).startswith("/gateway/"),
    "refresh_wrong_method": lambda r, rotated: r.get("to") == p.AUTH
    and r.get("path") == p.REFRESH_PATH and r.get("method") != "POST"
    and bool(_cookie(r)) and _cookie(r) not in rotated,
    "refresh": lambda r, rotated: r.get("to") == p.AUTH and r.get("path") == p.REFRESH_PATH
    and r.get("method") == "POST" and bool(_cookie(r)) and _cookie(r) not in rotated,
    "replay_refresh": lambda r, rotated: r.get("to") == p.AUTH
    and r.get("path") == p.REFRESH_PATH and r.get("method") == "POST"
    and _cookie(r) in rotated,
}


def _cookie(request: Request) -> Any:
    return p.header(request.get("headers") or {}, "Cookie")


def defect_missing(kind: str, record_type: str, data: dict[str, Any],
                   rotated: Collection[str]) -> str | None:
    """Why the request the prober sent for probe ``kind`` is not what ``kind`` names
    (``None``: it is). ``data`` is the ``OpenConnection`` or ``HttpRequest`` record's."""
    if kind in UPGRADE_DEFECTS:
        if record_type != "OpenConnection":
            return f"probe {kind} is an upgrade, and the prober sent a {record_type}"
        if not UPGRADE_DEFECTS[kind](data.get("request") or {}):
            return f"the upgrade sent as probe {kind} is not malformed that way: " \
                   f"{_short(data.get('request'))}"
        return None
    if kind in HTTP_DEFECTS:
        if record_type != "HttpRequest":
            return f"probe {kind} is an HTTP request, and the prober sent a {record_type}"
        if not HTTP_DEFECTS[kind](data, rotated):
            return f"the request sent as probe {kind} is not what it names: {_short(data)}"
        return None
    return f"the prober sent a probe of unknown kind {kind!r}"


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


__all__ = ["HTTP_DEFECTS", "UPGRADE_DEFECTS", "defect_missing"]
