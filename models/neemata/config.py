"""The Neemata model's configuration: real constants, fix flags, planted mutants.

``faithful`` models ``neematajs/neemata@f77b193b`` (spec ``neemata-rpc.md``), weaknesses
included; each weakness of spec section 4 that applies at that commit has a fix flag, and
``fixed`` turns them all on. Mutants are bugs the real code does not have, planted to
check that the monitors catch them (the zoo).
"""

from __future__ import annotations

from typing import ClassVar

from attrs import field, frozen

from gatewaysim.simulator.clock import Time, ms
from gatewaysim.simulator.config import PackConfig
from gatewaysim.simulator.errors import ConfigError

from .protocol import MAX_UINT32


def _non_negative(_inst: object, attr: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{getattr(attr, 'name', attr)} must be a non-negative integer, "
                          f"not {value!r}")


def _counter(_inst: object, attr: object, value: int) -> None:
    _non_negative(_inst, attr, value)
    if value > MAX_UINT32:
        raise ConfigError(f"{getattr(attr, 'name', attr)} must be at most {MAX_UINT32}")


@frozen(kw_only=True)
class NeemataConfig(PackConfig):
    """Every constant the model uses, with the real defaults."""

    FIXES: ClassVar[dict[str, str]] = {
        "single_abort_frame": (
            "The client sends at most one RpcAbort per call and none for a call the server "
            "has finished: no spurious RpcAbort after a settled unary call, no second one per "
            "stream (spec 2.1 step 5, 2.3, section 4 item 7)."
        ),
        "call_signal_lifecycle": (
            "A call's combined abort signal lives as long as the call (the real fix branch is "
            "dev/fix-210-call-signal-lifecycle): its timeout is cleared when the call settles "
            "or its stream is established, so it no longer kills a running stream nor lingers "
            "as a live timer; and its listeners leave the connection's cab once its stream is "
            "gone, instead of staying attached until disconnect when the stream was never "
            "read to its end (spec 2.1 step 2, 2.3, section 4 items 7 and 8)."
        ),
        "stream_pull_timeout_aborts": (
            "The gateway's wait for an RPC-stream pull times out on every pull, not just the "
            "first, and a timeout aborts the stream (RpcStreamAbort) instead of leaving a "
            "resolved future that disables backpressure (spec 3.3, section 4 item 9)."
        ),
        "download_credits": (
            "The gateway pushes a download only up to the bytes the client asked for "
            "(ServerStreamPull size) instead of flowing everything after the first pull "
            "(spec 2.5, section 4 item 9)."
        ),
        "download_break_cancels": (
            "Leaving a download's read loop (break, or dropping the iterator) cancels it: the "
            "client sends ServerStreamAbort and forgets it (spec 2.5, section 4 item 2)."
        ),
        "id_in_use_guard": (
            "Id allocators skip ids still live instead of overwriting their entries after a "
            "wrap at 2^32: client upload ids and gateway download ids in use, and client "
            "callIds in use or reserved (sent, and the server's final frame not yet back, as "
            "after an abort the handler ignores) (spec section 1 'Ids', items 6 and 10)."
        ),
        "distinct_abort_reasons": (
            "A caller can tell a timeout from its own abort: the rejection carries the "
            "signal's reason instead of a generic AbortError (spec 2.1 step 2, item 11)."
        ),
        "gateway_heartbeat": (
            "The gateway's heartbeat is on (ping every 15 s, close 1001 'heartbeat_timeout' "
            "after 5 s without a pong). It is off by default, so a connection whose transport "
            "died without the gateway being told is never reaped, nor anything it holds "
            "(spec section 3 defaults)."
        ),
        "disconnected_guard": (
            "A call made while not connected rejects with ConnectionError (not a TypeError or "
            "a transport error), and a second disconnect() is a no-op (section 4 item 13)."
        ),
    }

    MUTANTS: ClassVar[dict[str, str]] = {
        "calls_kept_after_response": "The client never deletes a call answered by RpcResponse.",
        "gateway_keeps_aborted_rpc": "The gateway does not delete an rpcs entry on RpcAbort "
                                     "nor at dispose when the call was aborted.",
        "chunk_sent_twice": "The gateway sends every third RPC-stream chunk twice.",
        "late_timeout_settles": "A call's timeout rejects it even if a response settled it.",
        "download_ids_restart": "The gateway numbers downloads from 0 for every call.",
    }

    link_latency: Time = field(default=ms(1), validator=_non_negative)
    """One-way delivery delay each direction (the real suite's ``setTimeout(1 ms)``)."""
    client_timeout: Time = field(default=ms(5000), validator=_non_negative)
    """The client's default call timeout (the test harness's; the library has none). 0: none."""
    rpc_stream_consume_timeout: Time = field(default=ms(5000), validator=_non_negative)
    """Gateway ``rpcStreamConsumeTimeout``: the wait for the first ``RpcPull``."""
    blob_pull_timeout: Time = field(default=ms(5000), validator=_non_negative)
    blob_consume_timeout: Time = field(default=ms(5000), validator=_non_negative)
    blob_finish_timeout: Time = field(default=ms(10_000), validator=_non_negative)
    upload_pull_size: int = field(default=16_384, validator=_non_negative)
    """The gateway readable's ``_read`` size (16 KiB on Node 20, 64 KiB on Node >= 22)."""
    upload_high_water: int = field(default=16_384, validator=_non_negative)
    """The gateway readable's buffer: it pulls again while it holds less than this."""
    download_pull_size: int = field(default=65_535, validator=_non_negative)
    first_call_id: int = field(default=0, validator=_counter)
    first_stream_id: int = field(default=0, validator=_counter)
    first_download_id: int = field(default=0, validator=_counter)
    """Where the gateway's per-connection download id counter starts."""
    heartbeat_interval: Time = field(default=ms(15_000), validator=_non_negative)
    heartbeat_timeout: Time = field(default=ms(5_000), validator=_non_negative)


__all__ = ["NeemataConfig"]
