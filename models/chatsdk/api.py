"""The document's ``ApiClient.request`` and the week-3 parts it leans on.

``request`` is the document's code: the token is read **once**, before the circuit breaker
and the retries (fix ``token_per_attempt`` reads it per attempt); each attempt sends
``Content-Type: application/json`` and the bearer token; a 401 forces one refresh and one
retry, and that retry sends only ``Authorization`` (no ``Content-Type``) and returns its body
without looking at the status (fix ``checked_401_retry``).

The circuit breaker, ``retryAsync``, the offline queue, 429 handling and resumable uploads
are the document's week 3, not in the seed. They are modelled the conventional way, the same
in both variants, every parameter a config field:

* circuit breaker: CLOSED -> OPEN after ``breaker_failure_threshold`` consecutive failed
  executions; OPEN -> HALF_OPEN after ``breaker_reset_timeout``; one probe execution in
  HALF_OPEN, success closes, failure re-opens. It wraps the whole ``retryAsync`` call, as
  the document nests them.
* ``retryAsync``: up to ``retry_max_retries`` retries after network errors, 5xx, 429 and a
  failed token refresh, waiting ``retry_base_delay * 2^i`` (capped at ``retry_max_delay``)
  and never less than a 429's ``Retry-After`` (itself capped at ``retry_after_max``). Other
  statuses are not retried.
* the offline queue (outbox): every message goes through it, one request at a time, oldest
  first. A message whose request fails stays at the head; the queue is tried again after
  ``queue_retry_interval``, when the browser comes online, and when the breaker half-opens.
  While the browser is offline nothing is sent.
* resumable upload: chunks of ``upload_chunk`` bytes PUT at the server's offset (the
  checkpoint); after a failed chunk the client waits ``upload_retry_delay``, asks the server
  for its offset and resumes from there.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from attrs import define, frozen

from gatewaysim.simulator.clock import SECOND, Time

from .config import ChatConfig
from .protocol import API, JSON, MESSAGES, UPLOADS
from .runtime import Effects, Runtime, header
from .tokens import TokenManager


class Breaker(Enum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


@frozen
class Outcome:
    """How an execution ended: ``ok`` with a body, or an error (maybe with a retry hint)."""

    ok: bool
    body: Any = None
    error: str = ""
    retryable: bool = False
    retry_after: Time | None = None


Done = Callable[[Time, Outcome], Effects]
Attempt = Callable[[Time, Done], Effects]

CIRCUIT_OPEN = "Circuit breaker is OPEN"
HALF_OPEN_TIMER = "breaker.half_open"
QUEUE_TIMER = "queue.retry"
UPLOAD_TIMER = "upload.resume"


@frozen
class Op:
    """One ``request(path, options)`` call."""

    n: int
    method: str
    path: str
    body: Any = None

    @property
    def id(self) -> str:
        return f"op{self.n}"


@define
class Upload:
    id: str
    size: int
    offset: int = 0  # the checkpoint: bytes the server has acknowledged
    bytes_sent: int = 0  # every byte put on the wire, resends included
    resumes: int = 0
    done: bool = False
    active: bool = False


class CircuitBreaker:
    def __init__(self, rt: Runtime, config: ChatConfig,
                 on_half_open: Callable[[Time], Effects]) -> None:
        self.rt = rt
        self.config = config
        self.on_half_open = on_half_open
        self.state = Breaker.CLOSED
        self.failures = 0
        self.probe_in_flight = False
        self.opened = 0  # times it opened
        self.closed_after_open = 0  # times it closed again

    def execute(self, now: Time, op: Op, run: Attempt, done: Done) -> Effects:
        leaky = self.config.mutant("breaker_admits_when_open")
        if not leaky and (self.state == Breaker.OPEN or (
                self.state == Breaker.HALF_OPEN and self.probe_in_flight)):
            return [self.rt.note("breaker.rejected", op=op.id, state=self.state.value),
                    *done(now, Outcome(False, error=CIRCUIT_OPEN))]
        probe = self.state == Breaker.HALF_OPEN
        if probe:
            self.probe_in_flight = True
        effects: Effects = [self.rt.note("breaker.admitted", op=op.id, state=self.state.value,
                                         probe=probe)]

        def finished(t: Time, outcome: Outcome) -> Effects:
            out: Effects = [self.rt.note("breaker.finished", op=op.id, ok=outcome.ok,
                                         probe=probe)]
            if probe:
                self.probe_in_flight = False
            if outcome.ok:
                self.failures = 0
                if self.state == Breaker.HALF_OPEN and probe:
                    self.closed_after_open += 1
                    out += self._set(Breaker.CLOSED)
            else:
                self.failures += 1
                if (self.state == Breaker.HALF_OPEN and probe) or (
                        self.state == Breaker.CLOSED
                        and self.failures >= self.config.breaker_failure_threshold):
                    out += self._open(t)
            return [*out, *done(t, outcome)]

        return [*effects, *run(now, finished)]

    def _open(self, now: Time) -> Effects:
        self.opened += 1
        return [*self._set(Breaker.OPEN),
                *self.rt.after(HALF_OPEN_TIMER, now + self.config.breaker_reset_timeout,
                               self._half_open)]

    def _half_open(self, now: Time) -> Effects:
        return [*self._set(Breaker.HALF_OPEN), *self.on_half_open(now)]

    def _set(self, state: Breaker) -> Effects:
        if state == self.state:
            return []
        old, self.state = self.state, state
        return [self.rt.note("breaker.state", state=state.value, previous=old.value)]

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.state.value}, failures={self.failures})"


class ApiClient:
    def __init__(self, rt: Runtime, config: ChatConfig, tokens: TokenManager) -> None:
        self.rt = rt
        self.config = config
        self.tokens = tokens
        self.breaker = CircuitBreaker(rt, config, self._flush)
        self.online = True
        self.queue: list[dict[str, Any]] = []  # the outbox, oldest first
        self.in_flight: dict[str, Any] | None = None
        self.uploads: dict[str, Upload] = {}
        self.sent: list[int] = []  # seqs the client reported as sent, in order
        self._ops = 0

    # ------------------------------------------------------------------ request()
    def request(self, now: Time, method: str, path: str, body: Any, done: Done) -> Effects:
        self._ops += 1
        op = Op(self._ops, method, path, body)
        if self.config.fixed("token_per_attempt"):
            return self.breaker.execute(now, op, lambda t, d: self._retrying(t, op, None, d),
                                        done)

        def with_token(t: Time, token: str | None, error: str | None) -> Effects:
            if token is None:
                return done(t, Outcome(False, error=error or ""))
            return self.breaker.execute(t, op, lambda t2, d: self._retrying(t2, op, token, d),
                                        done)

        return self.tokens.get_valid_token(now, with_token)

    def _retrying(self, now: Time, op: Op, token: str | None, done: Done,
                  retry: int = 0) -> Effects:
        """``retryAsync(fn)``: run the attempt, retry what is retryable."""

        def after_attempt(t: Time, outcome: Outcome) -> Effects:
            if outcome.ok or not outcome.retryable or retry >= self.config.retry_max_retries:
                return done(t, outcome)
            delay = min(self.config.retry_max_delay,
                        self.config.retry_base_delay * 2 ** min(retry, 16))
            if outcome.retry_after is not None:  # never sooner than the server asked
                delay = max(delay, min(outcome.retry_after, self.config.retry_after_max))
            return [self.rt.note("api.retry", op=op.id, retry=retry + 1, delay=delay,
                                 error=outcome.error),
                    *self.rt.after(f"api.retry.{op.id}", t + delay,
                                   lambda t2: self._retrying(t2, op, token, done, retry + 1))]

        if token is None:  # token_per_attempt: each attempt asks for a valid token
            def with_token(t: Time, tok: str | None, error: str | None) -> Effects:
                if tok is None:
                    return after_attempt(t, Outcome(False, error=error or "", retryable=True))
                return self._attempt(t, op, tok, after_attempt)

            return self.tokens.get_valid_token(now, with_token)
        return self._attempt(now, op, token, after_attempt)

    def _attempt(self, now: Time, op: Op, token: str, done: Done) -> Effects:
        headers = {"Content-Type": JSON, "Authorization": f"Bearer {token}"}

        def answered(t: Time, resp: Any, failure: str | None) -> Effects:
            if resp is None:
                return done(t, Outcome(False, error=f"fetch failed: {failure}", retryable=True))
            if resp.status == 401:
                return self._after_401(t, op, done)
            return done(t, self._judge(resp))

        return self.rt.fetch(API, op.method, op.path, headers, op.body, answered,
                             timeout=self.config.request_timeout)

    def _after_401(self, now: Time, op: Op, done: Done) -> Effects:
        """Force a refresh and retry once, the document's way (or checked, when fixed)."""
        checked = self.config.fixed("checked_401_retry")

        def refreshed(t: Time, token: str | None, error: str | None) -> Effects:
            if token is None:
                return done(t, Outcome(False, error=error or "", retryable=True))
            headers = {"Authorization": f"Bearer {token}"}
            if checked:
                headers = {"Content-Type": JSON, **headers}

            def answered(t2: Time, resp: Any, failure: str | None) -> Effects:
                if resp is None:
                    return done(t2, Outcome(False, error=f"fetch failed: {failure}",
                                            retryable=True))
                if checked:
                    return done(t2, self._judge(resp))
                return [self.rt.note("api.unchecked_401_retry", op=op.id, status=resp.status),
                        *done(t2, Outcome(True, body=resp.body))]  # retryResponse.json()

            return self.rt.fetch(API, op.method, op.path, headers, op.body, answered,
                                 timeout=self.config.request_timeout)

        return [self.rt.note("api.401", op=op.id),
                *self.tokens.refresh_token(now, refreshed)]

    @staticmethod
    def _judge(resp: Any) -> Outcome:
        if 200 <= resp.status < 300:
            return Outcome(True, body=resp.body)
        retry_after = None
        if resp.status == 429:
            value = header(resp, "Retry-After")
            if value is not None and value.isdigit():
                retry_after = int(value) * SECOND
        retryable = resp.status >= 500 or resp.status == 429
        return Outcome(False, error=f"HTTP {resp.status}", retryable=retryable,
                       retry_after=retry_after)

    # ------------------------------------------------------------------ the outbox
    def send_message(self, now: Time, seq: int, text: str) -> Effects:
        item: dict[str, Any] = {"seq": seq, "text": text}
        if self.config.fixed("idempotency_key"):
            item["id"] = f"m{seq}"
        self.queue.append(item)
        return [self.rt.note("message.created", seq=seq, online=self.online,
                             queued_behind=len(self.queue) - 1),
                *self._flush(now)]

    def set_online(self, now: Time, online: bool) -> Effects:
        self.online = online
        return self._flush(now) if online else []

    def _flush(self, now: Time) -> Effects:
        if self.in_flight is not None or not self.queue or not self.online:
            return []
        if self.breaker.state == Breaker.OPEN:
            return []  # the half-open timer flushes again
        newest_first = self.config.mutant("queue_not_fifo")
        item = self.queue[-1] if newest_first else self.queue[0]
        self.in_flight = item
        return [*self.rt.cancel(QUEUE_TIMER),
                *self.request(now, "POST", MESSAGES, dict(item),
                              lambda t, outcome: self._message_done(t, item, outcome))]

    def _message_done(self, now: Time, item: dict[str, Any], outcome: Outcome) -> Effects:
        self.in_flight = None
        if outcome.ok:
            self.queue.remove(item)
            self.sent.append(item["seq"])
            return [self.rt.note("message.sent", seq=item["seq"]), *self._flush(now)]
        return [self.rt.note("message.failed", seq=item["seq"], error=outcome.error),
                *self.rt.after(QUEUE_TIMER, now + self.config.queue_retry_interval,
                               self._flush)]

    # ------------------------------------------------------------------ uploads
    def start_upload(self, now: Time, upload_id: str) -> Effects:
        if upload_id in self.uploads:
            return []
        up = Upload(upload_id, self.config.upload_size)
        self.uploads[upload_id] = up
        return [self.rt.note("upload.started", upload=upload_id, size=up.size),
                *self._next_chunk(now, up)]

    def _next_chunk(self, now: Time, up: Upload) -> Effects:
        if up.offset >= up.size:
            up.done, up.active = True, False
            return [self.rt.note("upload.done", upload=up.id, bytes_sent=up.bytes_sent,
                                 resumes=up.resumes)]
        up.active = True
        size = min(self.config.upload_chunk, up.size - up.offset)
        up.bytes_sent += size
        body = {"offset": up.offset, "size": size, "total": up.size}

        def done(t: Time, outcome: Outcome) -> Effects:
            if outcome.ok and isinstance(outcome.body, dict) and "offset" in outcome.body:
                up.offset = outcome.body["offset"]
                return [self.rt.note("upload.progress", upload=up.id, offset=up.offset),
                        *self._next_chunk(t, up)]
            up.active = False
            return [self.rt.note("upload.paused", upload=up.id, offset=up.offset,
                                 error=outcome.error),
                    *self.rt.after(f"{UPLOAD_TIMER}.{up.id}", t + self.config.upload_retry_delay,
                                   lambda t2: self._resume(t2, up))]

        return self.request(now, "PUT", f"{UPLOADS}/{up.id}", body, done)

    def _resume(self, now: Time, up: Upload) -> Effects:
        def done(t: Time, outcome: Outcome) -> Effects:
            if outcome.ok and isinstance(outcome.body, dict) and "offset" in outcome.body:
                up.offset = outcome.body["offset"]
                up.resumes += 1
                return [self.rt.note("upload.resumed", upload=up.id, offset=up.offset),
                        *self._next_chunk(t, up)]
            return self.rt.after(f"{UPLOAD_TIMER}.{up.id}", t + self.config.upload_retry_delay,
                                 lambda t2: self._resume(t2, up))

        return self.request(now, "GET", f"{UPLOADS}/{up.id}", None, done)

    def __repr__(self) -> str:
        return f"ApiClient(queue={len(self.queue)}, {self.breaker!r})"


__all__ = ["ApiClient", "Breaker", "CircuitBreaker", "Op", "Outcome", "Upload"]
