"""A simulated network with WebSocket-semantics connections and HTTP-style exchanges.

Theory of operation
-------------------
A connection has two ends, the *client* (the host that opened it) and the *server*
(the host that accepted it, possibly after a Worker forwarded the upgrade). Each end has
its own view of the socket: CONNECTING, OPEN, CLOSING or CLOSED. Views change only when
something reaches that end, after the link's latency, which is how "the client still
thinks it is connected" happens naturally. That includes the news of a dead transport: an
end becomes CLOSED when its close notice is delivered, not when it is scheduled, so until
then the server still lists the socket and whatever the end sends is lost.

Messages are FIFO per direction: a message never arrives before one sent earlier on the
same connection in the same direction, even with jitter.

Faults are calls, not probabilities. ``drop`` breaks the transport and both ends see
1006 after their own delay. ``half_open`` breaks it with one end told and the other
believing it is still OPEN until it sends (then it learns, after ``rto``). A
``partition`` blocks new traffic from one host to another: a message sent across it
breaks the connection the same way (the sender learns after ``rto``, the receiver finds
out when it sends). ``crash`` of a host is applied by the world: every connection it has
breaks, peers see 1006 after ``crash_detect``.

Opt-in additions (a default :class:`NetworkConfig` and links set with :meth:`Network.set_link`
behave exactly as before, draw for draw):

* A link may be *lossy* (:meth:`Network.set_link_quality`): each HTTP request or response leg,
  and each upgrade, crossing it is lost with the link's probability, drawn from the link's
  own named rng stream (``link:a->b``), so adding a lossy link never shifts another draw. A
  lost HTTP leg fails the exchange as an unreachable peer does; a lost upgrade fails after
  ``connect_timeout``. WebSocket frames on an open connection ride TCP, which retransmits,
  so they are not lost unless the link says ``frames=True`` (a datagram-like link).
* A link may draw its latency from a distribution (:class:`Uniform`, :class:`ShiftedExponential`)
  instead of ``latency + jitter``; FIFO per direction still holds.
* A host may be *offline* (:meth:`Network.go_offline`): like a partition from every host,
  including hosts created later. The world tells the node with ``BrowserOffline`` /
  ``BrowserOnline``.
* A host may be *rate limited* (:meth:`Network.rate_limit`): the next ``n`` HTTP requests
  reaching it are answered ``429`` with a ``Retry-After`` header by the network, on the
  host's behalf (a proxy or API gateway in front of it).
* ``NetworkConfig(hold_in_flight=True)``: a frame already on the wire when a partition starts
  is held (TCP keeps retransmitting it) and arrives after the heal if its connection still
  lives; it is lost with the connection if that dies first. Off by default: frames in flight
  then arrive during the partition, as they always did.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

from attrs import define, field, frozen

from .clock import MS, SECOND, Time
from .errors import ConfigError
from .messages import (
    CLOSE_ABNORMAL,
    ConnectRequested,
    HttpFailed,
    HttpRequestReceived,
    HttpResponse,
    HttpResponseWithHeaders,
    Send,
    WsClosed,
    WsMessage,
    WsOpened,
    WsRejected,
)
from .node import SocketView
from .trace import SYS

if TYPE_CHECKING:
    from .world import World

CONNECTING, OPEN, CLOSING, CLOSED = "CONNECTING", "OPEN", "CLOSING", "CLOSED"
_MSG = "msg"  # a frame's kind: "open", "msg" or "close"
CLIENT, SERVER = "client", "server"


@frozen
class Uniform:
    """One-way latency drawn uniformly from ``[lo, hi]`` (integer microseconds)."""

    lo: Time
    hi: Time

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.lo <= self.hi:
            raise ConfigError(f"Uniform latency needs 0 <= lo <= hi, got {self.lo}, {self.hi}")

    def sample(self, rng: random.Random) -> Time:
        return rng.randint(self.lo, self.hi)


@frozen
class ShiftedExponential:
    """``base`` plus an exponential tail of mean ``mean``, cut at ``base + cap_means * mean``:
    the long-tailed shape of a congested or mobile link."""

    base: Time
    mean: Time
    cap_means: int = 10

    def __attrs_post_init__(self) -> None:
        if self.base < 0 or self.mean < 0 or self.cap_means < 1:
            raise ConfigError(f"ShiftedExponential needs base, mean >= 0 and cap_means >= 1, "
                              f"got {self.base}, {self.mean}, {self.cap_means}")

    def sample(self, rng: random.Random) -> Time:
        if self.mean == 0:
            return self.base
        tail = min(rng.expovariate(1.0 / self.mean), float(self.cap_means * self.mean))
        return self.base + int(tail)


LatencyDistribution = Uniform | ShiftedExponential


@define
class LinkParams:
    latency: Time
    jitter: Time = 0
    loss: float = 0.0  # probability that one message crossing the link is lost
    frames: bool = False  # loss applies to WebSocket frames too (not only HTTP and upgrades)
    dist: LatencyDistribution | None = None  # overrides latency + jitter when set
    rng: random.Random | None = field(default=None, repr=False)  # the link's named stream

    @property
    def special(self) -> bool:
        """Loss or a distribution: the link needs its own rng stream."""
        return self.dist is not None or self.loss > 0


@define(eq=False)
class RateLimit:
    """Answer the next ``remaining`` requests to a host with 429 and ``Retry-After``."""

    remaining: int
    retry_after: Time


@define
class NetworkConfig:
    """Defaults for every link; ``World(network=NetworkConfig(...))`` overrides them."""

    latency: Time = 10 * MS
    jitter: Time = 0
    rto: Time = 1 * SECOND  # how long a sender takes to learn its transport is dead
    crash_detect: Time = 10 * MS  # a crashed host's peers see 1006 after this (RST)
    connect_timeout: Time = 10 * SECOND  # an upgrade across a partition fails after this
    http_unreachable: Time = 5 * SECOND  # an HTTP exchange across a partition fails after this
    hold_in_flight: bool = False  # frames in flight when a partition starts wait for the heal


@define(eq=False)
class Connection:
    id: str
    client: str
    target: str  # the host the upgrade is currently addressed to
    request: dict
    server: str | None = None
    client_state: str = CONNECTING
    server_state: str | None = None
    attachment: Any = None
    broken: bool = False  # the transport is dead; nothing more is delivered
    aborted: bool = False  # the client closed before the upgrade was answered
    believers: set[str] = field(factory=set)  # ends not yet told the transport died
    # Ends whose close notice is on its way: each still sees its socket as it was (a node
    # must not find a socket CLOSED before it has been told), but nothing it sends arrives.
    notified: set[str] = field(factory=set)
    last_arrival: dict[str, Time] = field(factory=dict)  # per direction, for FIFO
    opened_at: Time | None = None
    seq: int = 0  # creation order: ``get_websockets`` lists oldest first
    # Frames held at a partition (``hold_in_flight``), per receiving end, in arrival order.
    held: dict[str, list[tuple[str, Any]]] = field(factory=dict)

    def state_of(self, end: str) -> str | None:
        return self.client_state if end == CLIENT else self.server_state

    def host_of(self, end: str) -> str | None:
        return self.client if end == CLIENT else self.server

    def end_of(self, host: str) -> str:
        return CLIENT if host == self.client else SERVER


@define(eq=False)
class Exchange:
    req: str
    client: str
    server: str
    timeout_entry: list | None = None
    done: bool = False


def _by_seq(conn: Connection) -> int:
    return conn.seq


class Network:
    """Owned by a :class:`~gatewaysim.simulator.world.World`; models reach it by effects."""

    def __init__(self, world: World, config: NetworkConfig) -> None:
        for name in ("latency", "jitter", "rto", "crash_detect", "connect_timeout",
                     "http_unreachable"):
            if getattr(config, name) < 0:
                raise ConfigError(f"network {name} must be >= 0, got {getattr(config, name)}")
        self.world = world
        self.config = config
        self.rng = world.rng.stream("network")
        self.links: dict[tuple[str, str], LinkParams] = {}
        self.blocked: set[tuple[str, str]] = set()
        self.conns: dict[str, Connection] = {}
        self.exchanges: dict[str, Exchange] = {}
        self.auto_responses: dict[str, dict[str, str]] = {}
        # Per server host, its connections whose server end is OPEN or CLOSING, in creation
        # order: what ``get_websockets`` lists, kept in step with every server_state change
        # so a listing does not scan every connection in the world.
        self._listed: dict[str, dict[Connection, None]] = {}
        self._opened = 0
        self.offline: set[str] = set()
        self.rate_limits: dict[str, RateLimit] = {}
        self._holding: dict[Connection, None] = {}  # connections with held frames

    # ---------------------------------------------------------------- links and faults
    def latency(self, a: str, b: str) -> Time:
        """One trip from ``a`` to ``b``: the link's latency plus a jitter draw, if any."""
        link = self.links.get((a, b)) if self.links else None
        if link is None:
            base, jitter = self.config.latency, self.config.jitter
        else:
            if link.dist is not None:
                return link.dist.sample(self._link_rng(a, b, link))
            base, jitter = link.latency, link.jitter
        return base + (self.rng.randint(0, jitter) if jitter else 0)

    def _link_rng(self, a: str, b: str, link: LinkParams) -> random.Random:
        if link.rng is None:
            link.rng = self.world.rng.stream(f"link:{a}->{b}")
        return link.rng

    def lost(self, a: str, b: str) -> bool:
        """Whether one message from ``a`` to ``b`` is lost now (a draw only on a lossy link)."""
        link = self.links.get((a, b)) if self.links else None
        if link is None or link.loss <= 0:
            return False
        return self._link_rng(a, b, link).random() < link.loss

    def set_link(self, a: str, b: str, latency: Time, jitter: Time = 0, both: bool = True) -> None:
        if latency < 0 or jitter < 0:
            raise ConfigError(f"link {a}->{b}: latency and jitter must be >= 0, "
                              f"got {latency} and {jitter}")
        for key in ((a, b), (b, a)) if both else ((a, b),):
            old = self.links.get(key)
            if old is not None and old.special:  # keep loss and distribution, change the rest
                old.latency, old.jitter = latency, jitter
            else:
                self.links[key] = LinkParams(latency, jitter)

    def set_link_quality(self, a: str, b: str, *, loss: float | None = None,
                         frames: bool | None = None,
                         dist: LatencyDistribution | bool | None = False,
                         both: bool = True) -> None:
        """Make the link lossy and/or give it a latency distribution (opt-in).

        ``loss`` is a probability in ``[0, 1]``; ``dist=None`` removes a distribution,
        ``dist=False`` (the default) leaves it as it is. Arguments left out keep their values.
        """
        if loss is not None and not 0.0 <= loss <= 1.0:
            raise ConfigError(f"link {a}->{b}: loss must be a probability, got {loss}")
        for key in ((a, b), (b, a)) if both else ((a, b),):
            link = self.links.get(key)
            if link is None:
                link = LinkParams(self.config.latency, self.config.jitter)
                self.links[key] = link
            if loss is not None:
                link.loss = float(loss)
            if frames is not None:
                link.frames = frames
            if dist is not False:
                link.dist = dist  # type: ignore[assignment]

    def is_blocked(self, a: str, b: str) -> bool:
        if self.offline and (a in self.offline or b in self.offline):
            return True
        return bool(self.blocked) and (a, b) in self.blocked

    def go_offline(self, host: str) -> None:
        """``host`` loses its network: a partition from every host, present and future."""
        self.offline.add(host)

    def go_online(self, host: str) -> None:
        self.offline.discard(host)
        self._release_held()

    def rate_limit(self, host: str, requests: int, retry_after: Time) -> None:
        """The next ``requests`` HTTP requests reaching ``host`` get 429 (0: lift the limit)."""
        if requests < 0 or retry_after < 0:
            raise ConfigError(f"rate limit needs requests >= 0 and retry_after >= 0, got "
                              f"{requests} and {retry_after}")
        if requests == 0:
            self.rate_limits.pop(host, None)
        else:
            self.rate_limits[host] = RateLimit(requests, retry_after)

    def partition(self, a: str, b: str, one_way: bool = False) -> None:
        self.blocked.add((a, b))
        if not one_way:
            self.blocked.add((b, a))

    def heal(self, a: str | None = None, b: str | None = None) -> None:
        if a is None:
            self.blocked.clear()
            self._release_held()
            return
        self.blocked.discard((a, b))  # type: ignore[arg-type]
        self.blocked.discard((b, a))  # type: ignore[arg-type]
        self._release_held()

    def _sys(self, actor: str, type_: str, **data: Any) -> None:
        world = self.world
        world.trace.emit(world.scheduler.now, actor, SYS, type_, data)

    def _deliver_at(self, when: Time, host: str, inp: Any) -> None:
        self.world.deliver_at(when, host, inp)

    def _tell_closed(self, conn: Connection, end: str, delay: Time, code: int, reason: str,
                     clean: bool) -> None:
        """Schedule the CLOSED notice for one end (at most one per end).

        The end's view stays as it is until the notice arrives: until then the node has
        not been told, so the socket is still listed (``get_websockets``) and a send from
        it is not refused but lost (``frame.lost``), as it is on a dead transport.
        """
        host = conn.host_of(end)
        state = conn.state_of(end)
        if host is None or state in (CLOSED, None) or end in conn.notified:
            return
        conn.notified.add(end)
        conn.believers.discard(end)
        if state == CONNECTING:  # the upgrade never completed: that is a failed connect
            notice: Any = WsRejected(conn.id, 0, reason)
        else:
            notice = WsClosed(conn.id, code, reason, clean)
        world = self.world
        h = world.hosts.get(host)
        life = None if h is None or not h.up else (h.incarnation, h.crashes)
        world.scheduler.call_at(world.now + delay, self._close_notice_due,
                                (conn, end, (host, notice, life)))

    def _close_notice_due(self, arg: tuple[Connection, str, tuple[str, Any, Any]]) -> None:
        """The notice reaches its end: only now does that end's view become CLOSED."""
        conn, end, delivery = arg
        if end not in conn.notified:  # the node closed the socket first: it has its notice
            return
        conn.notified.discard(end)
        if end == CLIENT:
            conn.client_state = CLOSED
        else:
            conn.server_state = CLOSED
            self._unlist(conn)
        self.world._deliver_scheduled(delivery)

    def _break(self, conn: Connection, told: dict[str, Time], reason: str) -> None:
        """The transport dies. Ends in ``told`` learn after their delay; the rest believe."""
        if conn.broken:
            return
        conn.broken = True
        if conn.held:
            self._drop_held(conn)
        for end in (CLIENT, SERVER):
            if conn.state_of(end) in (None, CLOSED) or end in conn.notified:
                continue  # gone, or already being told
            if end in told:
                self._tell_closed(conn, end, told[end], CLOSE_ABNORMAL, reason, False)
            elif conn.state_of(end) == CONNECTING:
                # It will never send, so it cannot find out that way: its handshake
                # times out instead.
                self._tell_closed(conn, end, self.config.connect_timeout, CLOSE_ABNORMAL,
                                  "unreachable", False)
            else:
                conn.believers.add(end)

    def _fault_target(self, conn_id: str, fault: str) -> Connection | None:
        """The connection a fault names, or ``None`` (recorded) if it is already gone.

        An explorer picks a connection, then time passes: by the time the fault lands the
        connection may have closed. That is a no-op, not an error.
        """
        conn = self.conns.get(conn_id)
        if conn is None or conn.broken:
            self._sys("world", "fault.ignored", fault=fault, conn=conn_id,
                      why="no such connection" if conn is None else "already broken")
            return None
        return conn

    def drop(self, conn_id: str, client_delay: Time | None = None,
             server_delay: Time | None = None) -> None:
        conn = self._fault_target(conn_id, "drop")
        if conn is None:
            return
        d = self.config.latency
        self._break(conn, {CLIENT: d if client_delay is None else client_delay,
                           SERVER: d if server_delay is None else server_delay}, "dropped")

    def half_open(self, conn_id: str, believer: str = SERVER, delay: Time | None = None) -> None:
        if believer not in (CLIENT, SERVER):
            raise ConfigError(f"half_open believer must be 'client' or 'server', got {believer!r}")
        conn = self._fault_target(conn_id, "half_open")
        if conn is None:
            return
        other = CLIENT if believer == SERVER else SERVER
        self._break(conn, {other: self.config.latency if delay is None else delay}, "half-open")

    def crash_host(self, host: str) -> None:
        """Every connection and exchange touching ``host`` fails; peers see it soon."""
        detect = self.config.crash_detect
        for conn in list(self.conns.values()):
            if conn.client == host or conn.server == host or (
                conn.server is None and conn.target == host
            ):
                if conn.client == host:
                    conn.client_state = CLOSED
                if conn.server == host:
                    conn.server_state = CLOSED
                    self._unlist(conn)
                if conn.server is None and conn.target == host and conn.client != host:
                    conn.broken = True
                    if conn.held:
                        self._drop_held(conn)
                    if conn.client_state == CONNECTING:
                        conn.client_state = CLOSED
                        self._deliver_at(self.world.now + detect, conn.client,
                                         WsRejected(conn.id, 0, "host crashed"))
                    continue
                self._break(conn, {CLIENT: detect, SERVER: detect}, "host crashed")
        for ex in list(self.exchanges.values()):
            if ex.done:
                continue
            if ex.server == host:
                self._finish(ex)
                self._deliver_at(self.world.now + detect, ex.client,
                                 HttpFailed(ex.req, "connection lost: peer crashed"))
            elif ex.client == host:
                self._finish(ex)
        self.auto_responses.pop(host, None)
        self._gc()

    def _gc(self) -> None:
        dead = [cid for cid, c in self.conns.items()
                if c.client_state == CLOSED and c.server_state in (None, CLOSED)
                and not (c.aborted and c.server is None and not c.broken)]
        for cid in dead:
            del self.conns[cid]

    # ---------------------------------------------------------------- WebSocket effects
    def open(self, client: str, conn_id: str, to: str, request: dict) -> None:
        self._opened += 1
        conn = Connection(conn_id, client, to, dict(request), seq=self._opened)
        self.conns[conn_id] = conn
        self._route_upgrade(conn, client, to)

    def _route_upgrade(self, conn: Connection, frm: str, to: str) -> None:
        now = self.world.now
        conn.target = to
        if self.is_blocked(frm, to) or self.is_blocked(to, frm):
            conn.broken = True
            conn.client_state = CLOSED
            self._deliver_at(now + self.config.connect_timeout, conn.client,
                             WsRejected(conn.id, 0, "unreachable"))
            return
        if not self.world.host_reachable(to):
            conn.broken = True
            conn.client_state = CLOSED
            self._deliver_at(now + self.latency(frm, to) * 2, conn.client,
                             WsRejected(conn.id, 0, "connection refused"))
            return
        if self.links and self.lost(frm, to):
            self._sys(frm, "upgrade.lost", conn=conn.id, to=to)
            conn.broken = True
            conn.client_state = CLOSED
            self._deliver_at(now + self.config.connect_timeout, conn.client,
                             WsRejected(conn.id, 0, "unreachable"))
            return
        self.world.schedule(now + self.latency(frm, to), self._arrive_upgrade, (conn, to))

    def _arrive_upgrade(self, arg: tuple[Connection, str]) -> None:
        conn, to = arg
        if conn.broken:
            return
        if not self.world.contact(to, "connect"):
            conn.broken = True
            conn.client_state = CLOSED
            self._deliver_at(self.world.now + self.latency(to, conn.client), conn.client,
                             WsRejected(conn.id, 0, "connection refused"))
            return
        self.world.deliver_now(to, ConnectRequested(conn.id, conn.client, conn.request))

    def accept(self, server: str, conn_id: str, attachment: Any, response: dict) -> None:
        conn = self.conns.get(conn_id)
        if conn is None or conn.broken:
            self._sys(server, "accept.ignored", conn=conn_id)
            return
        if conn.server is not None and conn.server != server:
            self._unlist(conn)
        conn.server = server
        conn.server_state = OPEN
        self._list(conn)
        conn.attachment = attachment
        conn.opened_at = self.world.now
        if conn.aborted:
            self._tell_closed(conn, SERVER, self.latency(conn.client, server), CLOSE_ABNORMAL,
                              "client went away", False)
            return
        self._send_dir(conn, SERVER, "open", response)

    def reject(self, server: str, conn_id: str, status: int, reason: str) -> None:
        conn = self.conns.get(conn_id)
        if conn is None or conn.broken:
            return
        conn.broken = True
        if conn.client_state == CONNECTING:
            conn.client_state = CLOSED
            self._deliver_at(self.world.now + self.latency(server, conn.client), conn.client,
                             WsRejected(conn_id, status, reason))
        self._gc()

    def forward(self, host: str, conn_id: str, to: str, request: dict) -> None:
        conn = self.conns.get(conn_id)
        if conn is None or conn.broken:
            return
        conn.request = dict(request)
        self._route_upgrade(conn, host, to)

    def set_attachment(self, server: str, conn_id: str, attachment: Any) -> None:
        conn = self.conns.get(conn_id)
        if conn is not None and conn.server == server:
            conn.attachment = attachment

    def send(self, host: str, conn_id: str, data: Any) -> None:
        conn = self.conns.get(conn_id)
        if conn is None:
            self._sys(host, "send.dropped", conn=conn_id, why="unknown connection")
            return
        state: str | None
        if host == conn.client:
            end, state = CLIENT, conn.client_state
        else:
            end, state = SERVER, conn.server_state
        if state != OPEN:
            self._sys(host, "send.dropped", conn=conn_id, why=f"socket {state}")
            return
        self._send_dir(conn, end, _MSG, data)

    def apply_send(self, host: str, eff: Send) -> None:
        """The ``Send`` effect: :meth:`send`, with the common case done here in one call.

        The common case is an OPEN end of a live connection in a world with no partition,
        no offline host and no per-link settings; it does exactly what :meth:`send` and
        :meth:`_send_dir` do then (the same draw, the same FIFO rule, the same entry).
        """
        conn = self.conns.get(eff.conn)
        if (conn is None or conn.notified or conn.broken or self.links or self.blocked
                or self.offline):
            self.send(host, eff.conn, eff.data)
            return
        if host == conn.client:
            if conn.client_state != OPEN:
                self.send(host, eff.conn, eff.data)
                return
            end, dst_end = CLIENT, SERVER
        else:
            if conn.server_state != OPEN:
                self.send(host, eff.conn, eff.data)
                return
            end, dst_end = SERVER, CLIENT
        config = self.config
        scheduler = self.world.scheduler
        jitter = config.jitter
        arrival = scheduler.now + config.latency + (self.rng.randint(0, jitter) if jitter else 0)
        last_arrival = conn.last_arrival
        last = last_arrival.get(end, 0)
        if arrival < last:  # FIFO per direction: never overtake an earlier frame
            arrival = last
        last_arrival[end] = arrival
        scheduler.call_at(arrival, self._arrive_msg, (conn, dst_end, eff.data))

    def _send_dir(self, conn: Connection, end: str, what: str, value: Any) -> None:
        """Put a frame from ``end`` on the wire (an open notice, a message or a close)."""
        src: str | None
        dst: str | None
        if end == CLIENT:
            src, dst, dst_end = conn.client, conn.server, SERVER
        else:
            src, dst, dst_end = conn.server, conn.client, CLIENT
        assert src is not None and dst is not None
        if conn.notified and end in conn.notified:  # told soon; what it sends is lost
            self._sys(src, "frame.lost", conn=conn.id, why="transport dead")
            return
        if conn.broken:
            if end in conn.believers:  # a half-open end finds out by sending
                self._sys(src, "frame.lost", conn=conn.id, why="transport dead")
                self._tell_closed(conn, end, self.config.rto, CLOSE_ABNORMAL, "transport dead",
                                  False)
            return
        if (self.blocked and (src, dst) in self.blocked) or (
                self.offline and (src in self.offline or dst in self.offline)):
            self._sys(src, "frame.lost", conn=conn.id, why="partitioned")
            self._break(conn, {end: self.config.rto}, "partitioned")
            return
        scheduler = self.world.scheduler
        # self.latency(src, dst), inlined: once per frame.
        link = self.links.get((src, dst)) if self.links else None
        if link is None:
            config = self.config
            base, jitter = config.latency, config.jitter
        else:
            base, jitter = link.latency, link.jitter
            if link.special:
                if link.frames and what == _MSG and self.lost(src, dst):
                    self._sys(src, "frame.lost", conn=conn.id, why="link loss")
                    return
                if link.dist is not None:
                    base = link.dist.sample(self._link_rng(src, dst, link))
                    jitter = 0
        arrival = scheduler.now + base + (self.rng.randint(0, jitter) if jitter else 0)
        last_arrival = conn.last_arrival
        last = last_arrival.get(end, 0)
        if arrival < last:  # FIFO per direction: never overtake an earlier frame
            arrival = last
        last_arrival[end] = arrival
        if what == _MSG:
            scheduler.call_at(arrival, self._arrive_msg, (conn, dst_end, value))
        else:
            scheduler.call_at(arrival, self._arrive_frame, (conn, dst_end, what, value))

    def _arrive_msg(self, arg: tuple[Connection, str, Any]) -> None:
        """A message frame reaches ``end``: the common case, kept apart from open and close."""
        conn, end, value = arg
        if conn.broken:
            return
        if self.config.hold_in_flight and self._hold(conn, end, _MSG, value):
            return
        if end == SERVER:
            host, state = conn.server, conn.server_state
        else:
            host, state = conn.client, conn.client_state
        if state != OPEN and state != CLOSING:
            return
        if end == SERVER and self.auto_responses and isinstance(value, str):
            auto = self.auto_responses.get(host)  # type: ignore[arg-type]
            if auto is not None and value in auto:
                self.world.trace.emit(self.world.scheduler.now, host, SYS,  # type: ignore
                                      "auto_response", {"conn": conn.id, "request": value,
                                                        "response": auto[value]})
                self._send_dir(conn, SERVER, _MSG, auto[value])
                return
        self.world.deliver_now(host, WsMessage(conn.id, value))  # type: ignore[arg-type]

    def _arrive_frame(self, arg: tuple[Connection, str, str, Any]) -> None:
        conn, end, what, value = arg
        if conn.broken:
            return
        if self.config.hold_in_flight and self._hold(conn, end, what, value):
            return
        host = conn.host_of(end)
        assert host is not None
        if what == "open":
            if conn.client_state != CONNECTING:
                if conn.aborted:  # the client closed while the accept was on its way
                    self._break(conn, {SERVER: self.latency(host, conn.server or host)},
                                "client went away")
                    self._gc()
                return
            conn.client_state = OPEN
            self.world.deliver_now(host, WsOpened(conn.id, value))
        elif what == "close":
            code, reason = value
            state = conn.state_of(end)
            if state in (None, CLOSED):
                return
            if end == CLIENT:
                conn.client_state = CLOSED
            else:
                conn.server_state = CLOSED
                self._unlist(conn)
            self.world.deliver_now(host, WsClosed(conn.id, code, reason, True))
            if state == OPEN:  # echo the close frame back, as a WebSocket stack does
                self._send_dir(conn, end, "close", (code, reason))
            self._gc()

    # ---------------------------------------------------------------- held frames
    def _hold(self, conn: Connection, end: str, what: str, value: Any) -> bool:
        """Hold a frame reaching ``end`` across a partition (``hold_in_flight`` only).

        A frame also waits behind frames already held for the same end (FIFO).
        """
        src = conn.server if end == CLIENT else conn.client
        dst = conn.host_of(end)
        queue = conn.held.get(end)
        if not queue and not (src is not None and dst is not None and self.is_blocked(src, dst)):
            return False
        conn.held.setdefault(end, []).append((what, value))
        self._holding[conn] = None
        self._sys(src or "world", "frame.held", conn=conn.id, to=dst)
        return True

    def _drop_held(self, conn: Connection) -> None:
        """The connection died: what it held dies with it."""
        for end, queue in conn.held.items():
            for _ in queue:
                self._sys(conn.host_of(end) or "world", "frame.lost", conn=conn.id,
                          why="connection died while the frame was held")
        conn.held.clear()
        self._holding.pop(conn, None)

    def _release_held(self) -> None:
        """After a heal: held frames whose path is open again continue, in order."""
        if not self._holding:
            return
        for conn in list(self._holding):
            if conn.broken:
                self._drop_held(conn)
                continue
            for end in (CLIENT, SERVER):
                queue = conn.held.get(end)
                if not queue:
                    continue
                src = conn.server if end == CLIENT else conn.client
                dst = conn.host_of(end)
                assert src is not None and dst is not None
                if self.is_blocked(src, dst):
                    continue
                del conn.held[end]
                sender = SERVER if end == CLIENT else CLIENT
                scheduler = self.world.scheduler
                for what, value in queue:
                    arrival = max(scheduler.now + self.latency(src, dst),
                                  conn.last_arrival.get(sender, 0))
                    conn.last_arrival[sender] = arrival
                    self._sys(src, "frame.released", conn=conn.id, to=dst)
                    if what == _MSG:
                        scheduler.call_at(arrival, self._arrive_msg, (conn, end, value))
                    else:
                        scheduler.call_at(arrival, self._arrive_frame, (conn, end, what, value))
            if not conn.held:
                self._holding.pop(conn, None)

    def close(self, host: str, conn_id: str, code: int, reason: str) -> None:
        conn = self.conns.get(conn_id)
        if conn is None:
            return
        end = conn.end_of(host)
        state = conn.state_of(end)
        if state == CONNECTING:  # closing before open fails the connection (1006)
            if end in conn.notified:  # its failure is on its way: this one replaces it
                conn.notified.discard(end)
            else:
                conn.aborted = True
            conn.client_state = CLOSED
            self._deliver_at(self.world.now, host,
                             WsClosed(conn_id, CLOSE_ABNORMAL, "closed before open", False))
            return
        if state != OPEN:
            return
        if end == CLIENT:
            conn.client_state = CLOSING
        else:
            conn.server_state = CLOSING
        self._send_dir(conn, end, "close", (code, reason))

    def set_auto_response(self, host: str, request: str, response: str) -> None:
        self.auto_responses.setdefault(host, {})[request] = response

    def server_sockets(self, host: str) -> list[SocketView]:
        """The server ends at ``host`` that are OPEN or CLOSING, oldest connection first."""
        listed = self._listed.get(host)
        if not listed:
            return []
        return [SocketView(c.id, c.client, c.attachment, c.server_state) for c in listed]

    def _list(self, conn: Connection) -> None:
        """Index a server end that became OPEN, keeping creation order."""
        assert conn.server is not None
        listed = self._listed.setdefault(conn.server, {})
        if conn in listed:
            return
        if listed and next(reversed(listed)).seq > conn.seq:  # accepted out of order
            ordered = sorted([*listed, conn], key=_by_seq)
            listed.clear()
            listed.update(dict.fromkeys(ordered))
        else:
            listed[conn] = None

    def _unlist(self, conn: Connection) -> None:
        """Drop a server end that became CLOSED (or moved) from its host's index."""
        listed = self._listed.get(conn.server) if conn.server is not None else None
        if listed is not None:
            listed.pop(conn, None)
            if not listed:
                del self._listed[conn.server]  # type: ignore[arg-type]

    # ---------------------------------------------------------------- HTTP exchanges
    def request(self, client: str, req: str, to: str, method: str, path: str, headers: dict,
                body: Any, timeout: Time | None) -> None:
        now = self.world.now
        ex = Exchange(req, client, to)
        self.exchanges[req] = ex
        if timeout is not None:
            ex.timeout_entry = self.world.schedule(now + timeout, self._http_timeout, ex)
        if self.is_blocked(client, to):
            self._fail_later(ex, self.config.http_unreachable, "unreachable")
            return
        if not self.world.host_reachable(to, "request"):
            self._fail_later(ex, self.latency(client, to) * 2, "connection refused")
            return
        if self.links and self.lost(client, to):
            self._sys(client, "http.lost", req=req, leg="request")
            self._fail_later(ex, self.config.http_unreachable, "lost")
            return
        inp = HttpRequestReceived(req, client, method, path, dict(headers), body)
        self.world.schedule(now + self.latency(client, to), self._arrive_request, (ex, inp))

    def _arrive_request(self, arg: tuple[Exchange, HttpRequestReceived]) -> None:
        ex, inp = arg
        if ex.done:
            return
        if not self.world.contact(ex.server, "request"):
            self._fail_later(ex, self.latency(ex.server, ex.client), "connection refused")
            return
        if self.rate_limits:
            limit = self.rate_limits.get(ex.server)
            if limit is not None and limit.remaining > 0:
                limit.remaining -= 1
                if limit.remaining == 0:
                    del self.rate_limits[ex.server]
                seconds = str(math.ceil(limit.retry_after / SECOND))
                self._sys(ex.server, "http.rate_limited", req=ex.req, retry_after=seconds)
                self.respond(ex.server, ex.req, 429, {"error": "Too Many Requests"},
                             {"Retry-After": seconds})
                return
        self.world.deliver_now(ex.server, inp)

    def respond(self, server: str, req: str, status: int, body: Any,
                headers: dict | None = None) -> None:
        ex = self.exchanges.get(req)
        if ex is None or ex.done or ex.server != server:
            self._sys(server, "response.dropped", req=req)
            return
        if self.is_blocked(server, ex.client):
            self._fail_later(ex, self.config.http_unreachable, "unreachable")
            return
        if self.links and self.lost(server, ex.client):
            self._sys(server, "http.lost", req=req, leg="response")
            self._fail_later(ex, self.config.http_unreachable, "lost")
            return
        self._finish(ex)
        response = (HttpResponse(req, status, body) if headers is None
                    else HttpResponseWithHeaders(req, status, body, dict(headers)))
        self._deliver_at(self.world.now + self.latency(server, ex.client), ex.client, response)

    def _finish(self, ex: Exchange) -> None:
        ex.done = True
        if ex.timeout_entry is not None:
            ex.timeout_entry[2] = None
        self.exchanges.pop(ex.req, None)

    def _fail_later(self, ex: Exchange, delay: Time, reason: str) -> None:
        """Fail the exchange after ``delay``, or at its timeout if that comes first."""
        when = self.world.now + delay
        if ex.timeout_entry is not None and ex.timeout_entry[0] <= when:
            when, reason = ex.timeout_entry[0], "timeout"
        self._finish(ex)
        self._deliver_at(when, ex.client, HttpFailed(ex.req, reason))

    def _http_timeout(self, ex: Exchange) -> None:
        if ex.done:
            return
        self._finish(ex)
        self.world.deliver_now(ex.client, HttpFailed(ex.req, "timeout"))

    # ---------------------------------------------------------------- introspection
    def connection(self, conn_id: str) -> Connection | None:
        return self.conns.get(conn_id)

    def open_connections(self) -> list[Connection]:
        return [c for c in self.conns.values() if not c.broken and c.server_state == OPEN]
