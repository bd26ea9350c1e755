"""Promises without an event loop: the browser's ``fetch`` and ``setTimeout`` for sans-IO parts.

The document's SDK is ``async`` TypeScript. Here each ``await`` is a callback the part hands
to :class:`Runtime`: ``fetch`` returns the ``HttpRequest`` effect and calls back when the
response (or the network error) arrives; ``after`` arms a timer and calls back when it fires.
Callbacks return effects, like every node input does, so the world still applies everything
after ``handle`` returns and the trace records it in order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.messages import (
    Effect,
    HttpFailed,
    HttpRequest,
    HttpResponse,
    HttpResponseWithHeaders,
    Note,
)
from gatewaysim.simulator.node import Node

Effects = list[Effect]
FetchDone = Callable[[Time, "HttpResponse | None", "str | None"], Effects]
"""``(now, response, failure)``: exactly one of the last two is set."""
Later = Callable[[Time], Effects]


def header(response: HttpResponse, name: str) -> str | None:
    """A response header (only :class:`HttpResponseWithHeaders` carries any)."""
    if isinstance(response, HttpResponseWithHeaders):
        return response.headers.get(name)
    return None


class Runtime:
    """The host's fetch and timers, shared by every part of the client."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._fetches: dict[str, FetchDone] = {}
        self._timers: dict[str, Later] = {}
        self._n = 0

    def fetch(self, to: str, method: str, path: str, headers: dict[str, str], body: Any,
              done: FetchDone, timeout: Time | None = None) -> Effects:
        self._n += 1
        req = f"{self.node.address}:h{self._n}"
        self._fetches[req] = done
        return [HttpRequest(req, to, method, path, dict(headers), body, timeout)]

    def after(self, key: str, at: Time, fn: Later) -> Effects:
        """Arm timer ``key`` (re-arming replaces the callback too)."""
        self._timers[key] = fn
        return [self.node.set_timer(key, at)]

    def cancel(self, key: str) -> Effects:
        if key not in self._timers:
            return []
        del self._timers[key]
        return [self.node.cancel_timer(key)]

    def armed(self, key: str) -> bool:
        return key in self._timers

    def pending_fetches(self) -> int:
        return len(self._fetches)

    # ------------------------------------------------------------------ dispatch
    def fired(self, now: Time, key: str) -> Effects:
        fn = self._timers.pop(key, None)
        return fn(now) if fn is not None else []

    def answered(self, now: Time, inp: HttpResponse | HttpFailed) -> Effects | None:
        """Route a response or failure to its callback; ``None`` if it is not ours."""
        done = self._fetches.pop(inp.req, None)
        if done is None:
            return None
        if isinstance(inp, HttpResponse):
            return done(now, inp, None)
        return done(now, None, inp.reason)

    @staticmethod
    def note(event: str, **data: Any) -> Note:
        return Note(event, data)

    def __repr__(self) -> str:
        return f"Runtime({self.node.address!r}, fetches={len(self._fetches)})"


__all__ = ["Effects", "FetchDone", "Later", "Runtime", "header"]
