"""The Lumenize invariants: what Lumenize Mesh promises, stated the way production systems do.

Each invariant cites the guarantee it encodes from ``realtime-systems.md`` section 3 ("#6"
is its sixth item) and the Lumenize behaviour it is about (``lumenize-mesh.md``, "spec").
Checks read the :class:`~gatewaysim.properties.lumenize.ledger.Ledger` the driver keeps
from the trace,
and the nodes' ``statistics()``; none of them calls the model's own decision functions.

Safety invariants are checked after every step. Liveness invariants are checked once,
after ``settle``: faults stop at ``t_heal`` and the world runs for the driver's settle
bound (3 min of virtual time; heartbeats mean it never goes quiet by itself).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gatewaysim.simulator.clock import MINUTE, SECOND, Time, format_duration, format_time, us

from ..invariants import Invariant

if TYPE_CHECKING:
    from .driver import LumenizeDriver

CLIENT_CALL_BOUND: Time = 65 * SECOND
"""An awaited call is answered within a round trip, unless its socket dies. Then the
client finds out within one heartbeat (30 s) plus the transport's rto (1 s), or the call
was still queued and its own 30 s queue timer ends it. 65 s covers either with room."""

MESH_CALL_SLACK: Time = 5 * SECOND
PINGPONG_TAIL: Time = MINUTE
HERD_WINDOW: Time = us(100)


def _problem(invariant_id: str):  # type: ignore[no-untyped-def]
    def check(driver: LumenizeDriver) -> str | None:
        driver.ledger.finish_step(driver.now)
        return driver.ledger.problems.get(invariant_id)

    check.__name__ = f"check_{invariant_id.rpartition('.')[2]}"
    return check


# ---------------------------------------------------------------------------- safety
def _one_open_socket(driver: LumenizeDriver) -> str | None:
    for gw, conns in sorted(driver.ledger.gw_open.items()):
        if len(conns) > 1:
            return f"{gw} holds {len(conns)} OPEN sockets: {sorted(conns)}"
    return None


ONE_OPEN_SOCKET = Invariant(
    id="lumenize.one_open_socket",
    statement="a gateway holds at most one OPEN socket once a takeover settles",
    kind="safety",
    check=_one_open_socket,
    doc="#9 duplicate supersession: one authoritative session per (user, tab). The gateway "
        "closes every older socket with 4409 in the same step that accepts the new one (spec "
        "1.1 steps 6-8), so after any step at most one socket it accepted is still OPEN.",
)

NO_EXPIRED_FRAME = Invariant(
    id="lumenize.no_expired_frame",
    statement="no client frame reaches the mesh under an expired token",
    kind="safety",
    check=_problem("lumenize.no_expired_frame"),
    doc="#12: the server, not the client, enforces expiry. Spec 1.6: every string frame is "
        "checked against the socket attachment's exp before parsing; an expired call is "
        "dropped and the socket closed 4401. Judged from the exp in the attachment the "
        "gateway accepted and the time its RPC to the mesh left.",
)

NO_EXPIRED_INCOMING_CALL = Invariant(
    id="lumenize.no_expired_incoming_call",
    statement="no mesh->client call is delivered (incoming_call sent) under an expired token",
    kind="safety",
    check=_problem("lumenize.no_expired_incoming_call"),
    doc="#12, spec 1.5 step 5 and 1.6: __executeOperation checks exp; an expired socket is "
        "closed 4401 and the call fails 'Client token expired' instead of being delivered.",
)

MESH_CALL_SETTLES_ONCE = Invariant(
    id="lumenize.mesh_call_settles_once",
    statement="every mesh->client call is settled at most once by its gateway",
    kind="safety",
    check=_problem("lumenize.mesh_call_settles_once"),
    doc="#6 and #17: an RPC has one outcome. A second settlement means two code paths (the "
        "30 s timer, a close, a reply, the alarm) both think they own the call.",
)

CLIENT_CALL_SETTLES_ONCE = Invariant(
    id="lumenize.client_call_settles_once",
    statement="every client call is settled at most once",
    kind="safety",
    check=_problem("lumenize.client_call_settles_once"),
    doc="#6: a promise settles once. Spec 2.4: a call leaves the pending map when it "
        "settles (reply, queue timeout, disconnect(), or the close fix).",
)

CALL_ID_ONCE = Invariant(
    id="lumenize.call_id_once",
    statement="each client call id reaches the mesh at most once",
    kind="safety",
    check=_problem("lumenize.call_id_once"),
    doc="#6: the server applies each call id at most once. Lumenize has no dedup on the mesh "
        "side, so the client must never send one call twice (spec 2.4: the queue is flushed "
        "once, on connection_status).",
)

PARKED_CALL_DELIVERED_ONCE = Invariant(
    id="lumenize.parked_call_delivered_once",
    statement="a call parked during grace is delivered exactly once when the client returns "
              "within grace",
    kind="safety",
    check=_problem("lumenize.parked_call_delivered_once"),
    doc="#1 gap-free recovery within the window W (here: grace), exactly once. Spec 1.1 step "
        "9 and 1.5 step 3: the upgrade that ends grace resolves every waiter, which continues "
        "on the new socket. So in the step that accepts the returning client every parked "
        "call is forwarded (or fails, e.g. on an expired token), each incoming_call id is "
        "sent once, and the client runs it once.",
)

SUBSCRIPTION_REQUIRED = Invariant(
    id="lumenize.subscription_required",
    statement="connection_status.subscriptionRequired is true exactly when the gateway lost "
              "the client's state",
    kind="safety",
    check=_problem("lumenize.subscription_required"),
    doc="#2 binary outcome, #3 epoch fencing, #4 explicit discontinuity beyond W. The oracle "
        "is kept from the trace, apart from the model's formula: state is lost at the first "
        "connection ever; when the grace alarm fires while the gateway holds no OPEN socket "
        "(parked calls were rejected, fan-outs dropped rows); when the gateway crashes (a new "
        "epoch: calls it held and fan-outs sent while it was down are gone); and, with fix "
        "resubscribe_after_fanout_drop, when a broadcaster reports a dropped row. An "
        "accepted upgrade resets it.",
)

PROMPT_FIRST_RECONNECT = Invariant(
    id="lumenize.prompt_first_reconnect",
    statement="the first reconnect delay after an open connection drops is at most "
              "reconnect_initial",
    kind="safety",
    check=_problem("lumenize.prompt_first_reconnect"),
    doc="#14 reconnect bound: each attempt's delay stays in its band, and the counter "
        "resets on open (spec 2.1 'socket open: attempts=0', 2.2). Full jitter draws from "
        "[0, reconnect_initial] for that first attempt, so the bound holds for both variants.",
)


STALE_SOCKET_FENCED = Invariant(
    id="lumenize.stale_socket_fenced",
    statement="the close of a socket that is no longer the client's current one changes "
              "nothing (no state change, reconnect, refresh or login prompt)",
    kind="safety",
    check=_problem("lumenize.stale_socket_fenced"),
    doc="#8 stale-generation fencing: events from a superseded connection are never applied "
        "to the new one. Spec 2.1: the stale-close guard (onclose of a socket that is not "
        "this.ws returns at once). The current socket is the one the client opened last, "
        "read from its OpenConnection effects.",
)

SINGLE_FLIGHT_REFRESH = Invariant(
    id="lumenize.single_flight_refresh",
    statement="a connect attempt never starts a refresh while one of the tab's refreshes "
              "is in flight",
    kind="safety",
    check=_problem("lumenize.single_flight_refresh"),
    doc="#10 single-flight refresh: at most one refresh in flight per refresh token, or the "
        "rotating token service revokes the cookie under the other one and logs the tab out. "
        "Spec 2.3: ensureFreshToken joins the promise in flight, but a first connect calls "
        "refreshToken() directly, so overlapping first-connect attempts race (fix "
        "single_flight_first_connect). The 4401 path's direct refresh is a single reaction "
        "to a close, not an attempt, and is not judged here.",
)


# ---------------------------------------------------------------------------- liveness
def _no_pingpong(driver: LumenizeDriver) -> str | None:
    assert driver.t_heal is not None
    tail = driver.t_heal + driver.settle_bound - PINGPONG_TAIL
    late = [t for t in driver.ledger.supersessions if t >= tail]
    if late:
        return (f"{len(late)} supersession(s) (4409) in the last "
                f"{format_duration(PINGPONG_TAIL)} of the settle window, the last at "
                f"{format_time(late[-1])}: tabs keep taking the instanceName from each other")
    return None


NO_PINGPONG = Invariant(
    id="lumenize.no_pingpong",
    statement="after the last duplicate-tab event, supersessions stop (no 4409 in the settle "
              "window's last minute)",
    kind="liveness",
    check=_no_pingpong,
    doc="#9 duplicate supersession: the superseded session closes with a terminal code, so "
        "there is no tab ping-pong; #13 terminal means terminal. Spec 6 'ping-pong between "
        "two clients sharing an instanceName'. Tab events all happen before t_heal.",
)


def _rejected_upgrade_stops(driver: LumenizeDriver) -> str | None:
    assert driver.t_heal is not None
    for client, refusals in sorted(driver.ledger.gate_rejected.items()):
        # Counted from the first refusal, or from t_heal if that came before it.
        since = max(refusals[0], driver.t_heal)
        attempts = [t for t in driver.ledger.opens.get(client, []) if t > since]
        if len(attempts) > 1:
            return (f"{client} was refused by the access gate (403) and then made "
                    f"{len(attempts)} more connection attempts after t_heal")
    return None


REJECTED_UPGRADE_STOPS = Invariant(
    id="lumenize.rejected_upgrade_stops",
    statement="a client refused by the access gate makes at most one more attempt in the "
              "settle window after its first refusal",
    kind="liveness",
    check=_rejected_upgrade_stops,
    doc="#11 no refresh/logout loop and #13 terminal means terminal: a definitive 403 ends "
        "in a terminal state, never an unbounded cycle. Spec 3 (the gate answers 403) and 6 "
        "(the browser sees 1006 and retries). Approvals are not restored by heal_faults. One "
        "more attempt is allowed: connect attempts are never cancelled (spec 6), so one that "
        "was already awaiting its refresh when the 403 came may still knock once.",
)


def _herd_dispersed(driver: LumenizeDriver) -> str | None:
    arrivals = driver.ledger.arrivals
    for t_herd, clients in driver.herds:
        if len(clients) < 3:
            continue
        first: dict[str, Time] = {}
        for t, client in arrivals:
            if t > t_herd and client in clients and client not in first:
                first[client] = t
        # A tab the user woke (or connect()ed) between the drop and its first arrival came
        # back by reconnectNow, outside the backoff schedule this invariant judges.
        for t_user, client in driver.ledger.user_reconnects:
            if client in first and t_herd < t_user <= first[client]:
                del first[client]
        times = sorted(first.values())
        need = max(3, len(clients) // 2 + 1)
        for i in range(len(times) - need + 1):
            if times[i + need - 1] - times[i] < HERD_WINDOW:
                return (f"after the drop of {len(clients)} tabs at {format_time(t_herd)}, "
                        f"{need} reconnects reached the Worker within "
                        f"{format_duration(times[i + need - 1] - times[i])} of each other "
                        f"(from {format_time(times[i])})")
    return None


HERD_DISPERSED = Invariant(
    id="lumenize.herd_dispersed",
    statement="after a gateway-wide drop, no more than half of the dropped tabs reach the "
              "Worker within the same 100 us",
    kind="liveness",
    check=_herd_dispersed,
    doc="#15 herd dispersion: reconnect arrivals stay under an admission rate; full jitter "
        "passes, no-jitter schedules fail. Judged per herd of n >= 3 tabs, on each tab's first "
        "arrival after the drop: a violation is max(3, n//2 + 1) of them inside one 100 us "
        "window. Lockstep (spec 2.2: min(1000*2^n, 30000) ms, no jitter) puts them on the same "
        "microsecond, so it always fails. Full jitter draws each first delay uniformly from "
        "[0, 1 s], and P(3 of n uniform points within w) <= C(n,3)*3*(w/1s)^2 = C(n,3)*3e-8: "
        "1.2e-7 per herd of 4, below 1e-4 for a campaign of a thousand herds. (A 1 ms window "
        "would give 1.2e-5 per herd, about 1% per campaign: too often a false alarm.) Tabs the "
        "user woke or reconnected after the drop are left out: reconnectNow skips the backoff "
        "by design (spec 2.5; Ably RTN20 likewise connects at once on 'online'), and wake-ups "
        "the explorer fires at one instant are not a schedule the client chose.",
)


def _client_calls_settle(driver: LumenizeDriver) -> str | None:
    now = driver.now
    for (client, tag), book in sorted(driver.ledger.awaited.items()):
        if not driver.world.host_up(client):
            continue  # the tab was closed: nobody is waiting any more
        deadline = book.issued + CLIENT_CALL_BOUND
        if not book.settled and deadline <= now:
            return (f"{client}'s awaited call [{tag}] issued at {format_time(book.issued)} "
                    f"never settled ({format_duration(now - book.issued)} later)")
        if book.settled and book.settled[0] > deadline:
            return (f"{client}'s awaited call [{tag}] took "
                    f"{format_duration(book.settled[0] - book.issued)} to settle")
    return None


CLIENT_CALLS_SETTLE = Invariant(
    id="lumenize.client_calls_settle",
    statement="every awaited client call settles within 65 s of being issued",
    kind="liveness",
    check=_client_calls_settle,
    doc="#6: each call is answered or fails explicitly; nothing is silently dropped. Spec "
        "1.7 and 6 'awaited callRaw across the client socket': the gateway replies only on "
        "the originating socket, so a call whose socket drops hangs forever unless the "
        "client rejects it on close. Bound: see CLIENT_CALL_BOUND.",
)


def _mesh_calls_settle(driver: LumenizeDriver) -> str | None:
    bound = driver.model_config.grace + driver.model_config.client_call_timeout \
        + MESH_CALL_SLACK
    now = driver.now
    for tag, book in sorted(driver.ledger.mesh_calls.items()):
        deadline = book.issued + bound
        if not book.settled and deadline <= now:
            return (f"mesh call [{tag}] sent at {format_time(book.issued)} never settled "
                    f"({format_duration(now - book.issued)} later)")
        if book.settled and book.settled[0] > deadline:
            return (f"mesh call [{tag}] took {format_duration(book.settled[0] - book.issued)} "
                    "to settle")
    return None


MESH_CALLS_SETTLE = Invariant(
    id="lumenize.mesh_calls_settle",
    statement="every mesh->client call settles within grace + 30 s + 5 s",
    kind="liveness",
    check=_mesh_calls_settle,
    doc="#6 and #17: a call fails explicitly rather than hanging. Spec 1.5: a call parks "
        "at most until the grace alarm (or the reconnect that releases it), and a forwarded "
        "call waits at most CLIENT_CALL_TIMEOUT_MS for its answer. A crashed gateway fails "
        "its exchanges at once. 5 s of slack covers latency and a close that pushes the "
        "alarm out.",
)


def _subscribed_in_rows(driver: LumenizeDriver) -> str | None:
    from .driver import USERS, instance_of

    rows = set(driver.lw.broadcaster().subscribers)
    for user in range(USERS):
        for tab in driver.live_tabs(user):
            if driver.ledger.belief.get(tab) and driver.connected(tab) \
                    and instance_of(user) not in rows:
                return (f"{tab} is connected and believes it is subscribed to doc/main, but "
                        f"the broadcaster has no row for {instance_of(user)} (rows: "
                        f"{sorted(rows)})")
    return None


SUBSCRIBED_IN_ROWS = Invariant(
    id="lumenize.subscribed_in_rows",
    statement="a connected client that believes it is subscribed is in the broadcaster's "
              "subscriber rows",
    kind="liveness",
    check=_subscribed_in_rows,
    doc="#5 resubscribe completeness and #20 silent loss on live connections = 0. Spec 6 "
        "'silent subscription loss': a fan-out that fails with 'Client token expired' or "
        "'Client call timed out' drops the row while the client stays (or comes back within "
        "grace) and is told subscriptionRequired: false. Belief is read from the trace: a "
        "subscribe that settled ok, with no unsubscribe sent since.",
)


def _one_connected(driver: LumenizeDriver) -> str | None:
    from .driver import USERS, instance_of

    ledger = driver.ledger
    for user in range(USERS):
        tabs = driver.live_tabs(user)
        connected = [tab for tab in tabs if driver.connected(tab)]
        required = []
        for tab in tabs:
            if user in driver.revoked:
                continue  # may stay on an old token or be refused: both are fine
            login = ledger.login_required.get(tab)
            if login is not None and login[1] and ledger.last_open.get(tab, -1) < login[0]:
                continue  # told to log in again by the token service or the gate
            client = driver.world.node(tab)
            if client.conn in ledger.superseded_conns and client.state == "disconnected":
                continue  # its own socket was superseded by a newer tab: stays down (4409)
            required.append(tab)
        if required and len(connected) != 1:
            states = {tab: driver.client_state(tab) for tab in tabs}
            return (f"{instance_of(user)} has {len(connected)} connected tab(s) "
                    f"{format_duration(driver.settle_bound)} after t_heal (tabs: {states})")
        if len(connected) > 1:
            return f"{instance_of(user)} has {len(connected)} connected tabs: {connected}"
    return None


ONE_CONNECTED = Invariant(
    id="lumenize.one_connected",
    statement="once faults stop, every instanceName with a tab allowed to connect has exactly "
              "one connected tab by t_heal + 3 min",
    kind="liveness",
    check=_one_connected,
    doc="#14 reconnect bound (the server is reachable from t_heal, so the client is connected "
        "by t_heal + max_delay + connect_timeout, well inside 3 min) and #9 (one session per "
        "instanceName). Not required to connect: a tab whose user lost approval, a tab told "
        "to log in again by a definitive 401/403 from the token service or the gate (#11), "
        "and a tab superseded by a newer one that stays down (#13). A login_required caused "
        "by anything else (the token service down) does not excuse a tab.",
)

INVARIANTS: tuple[Invariant, ...] = (
    ONE_OPEN_SOCKET,
    NO_EXPIRED_FRAME,
    NO_EXPIRED_INCOMING_CALL,
    MESH_CALL_SETTLES_ONCE,
    CLIENT_CALL_SETTLES_ONCE,
    CALL_ID_ONCE,
    PARKED_CALL_DELIVERED_ONCE,
    SUBSCRIPTION_REQUIRED,
    PROMPT_FIRST_RECONNECT,
    STALE_SOCKET_FENCED,
    SINGLE_FLIGHT_REFRESH,
    NO_PINGPONG,
    REJECTED_UPGRADE_STOPS,
    HERD_DISPERSED,
    CLIENT_CALLS_SETTLE,
    MESH_CALLS_SETTLE,
    SUBSCRIBED_IN_ROWS,
    ONE_CONNECTED,
)
