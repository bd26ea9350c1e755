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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field

from .clock import MS, SECOND, Time
from .errors import ConfigError
from .messages import (
    CLOSE_ABNORMAL,
    ConnectRequested,
    HttpFailed,
    HttpRequestReceived,
    HttpResponse,
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


@define
class LinkParams:
    latency: Time
    jitter: Time = 0


@define
class NetworkConfig:
    """Defaults for every link; ``World(network=NetworkConfig(...))`` overrides them."""

    latency: Time = 10 * MS
    jitter: Time = 0
    rto: Time = 1 * SECOND  # how long a sender takes to learn its transport is dead
    crash_detect: Time = 10 * MS  # a crashed host's peers see 1006 after this (RST)
    connect_timeout: Time = 10 * SECOND  # an upgrade across a partition fails after this
    http_unreachable: Time = 5 * SECOND  # an HTTP exchange across a partition fails after this


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

    # ---------------------------------------------------------------- links and faults
    def latency(self, a: str, b: str) -> Time:
        """One trip from ``a`` to ``b``: the link's latency plus a jitter draw, if any."""
        link = self.links.get((a, b)) if self.links else None
        if link is None:
            base, jitter = self.config.latency, self.config.jitter
        else:
            base, jitter = link.latency, link.jitter
        return base + (self.rng.randint(0, jitter) if jitter else 0)

    def set_link(self, a: str, b: str, latency: Time, jitter: Time = 0, both: bool = True) -> None:
        if latency < 0 or jitter < 0:
            raise ConfigError(f"link {a}->{b}: latency and jitter must be >= 0, "
                              f"got {latency} and {jitter}")
        self.links[(a, b)] = LinkParams(latency, jitter)
        if both:
            self.links[(b, a)] = LinkParams(latency, jitter)

    def is_blocked(self, a: str, b: str) -> bool:
        return bool(self.blocked) and (a, b) in self.blocked

    def partition(self, a: str, b: str, one_way: bool = False) -> None:
        self.blocked.add((a, b))
        if not one_way:
            self.blocked.add((b, a))

    def heal(self, a: str | None = None, b: str | None = None) -> None:
        if a is None:
            self.blocked.clear()
            return
        self.blocked.discard((a, b))  # type: ignore[arg-type]
        self.blocked.discard((b, a))  # type: ignore[arg-type]

    def _sys(self, actor: str, type_: str, **data: Any) -> None:
        self.world.trace.emit(self.world.now, actor, SYS, type_, data)

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
        """The ``Send`` effect: :meth:`send` without unpacking it in a lambda first."""
        self.send(host, eff.conn, eff.data)

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
        if self.blocked and (src, dst) in self.blocked:
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
        inp = HttpRequestReceived(req, client, method, path, dict(headers), body)
        self.world.schedule(now + self.latency(client, to), self._arrive_request, (ex, inp))

    def _arrive_request(self, arg: tuple[Exchange, HttpRequestReceived]) -> None:
        ex, inp = arg
        if ex.done:
            return
        if not self.world.contact(ex.server, "request"):
            self._fail_later(ex, self.latency(ex.server, ex.client), "connection refused")
            return
        self.world.deliver_now(ex.server, inp)

    def respond(self, server: str, req: str, status: int, body: Any) -> None:
        ex = self.exchanges.get(req)
        if ex is None or ex.done or ex.server != server:
            self._sys(server, "response.dropped", req=req)
            return
        if self.is_blocked(server, ex.client):
            self._fail_later(ex, self.config.http_unreachable, "unreachable")
            return
        self._finish(ex)
        self._deliver_at(self.world.now + self.latency(server, ex.client), ex.client,
                         HttpResponse(req, status, body))

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
