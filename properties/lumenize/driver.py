"""The Lumenize pack's driver: four users with one tab each, and everything that can hit them.

The world is the model pack's own (``gatewaysim.models.lumenize.build_world``): the
Worker, the token service, a gateway per tab, the ``doc/main`` broadcaster every tab
subscribes to, and the mesh node ``node/main``. Steps are faults and ordinary traffic
(calls, broadcasts, wake-ups), each in a swarm group (the ``fault`` of its step kind) that
a run switches on or off; only the passing of time (``advance``, the step declared with
``time_arg``) is always on. Every step is a no-op when it does not apply, so a failure file
replays the same way whatever shrinking removed around it.

``heal_faults`` stops *network and service* faults only. A duplicate tab and a revoked
approval are user facts, not faults: they stay, and the liveness invariants judge what
the system does with them once the network is healthy.

``statistics()`` is the frozen :class:`~gatewaysim.properties.lumenize.statistics.
LumenizeStatistics` the monitors judge from; the herd step writes one ``herd`` fault record
naming the tabs it drops, so the herd monitor needs nothing else from the driver.
"""

from __future__ import annotations

from typing import ClassVar

from hypothesis import strategies as st

from gatewaysim.models.lumenize import ClientSpec, build_world
from gatewaysim.models.lumenize import protocol as p
from gatewaysim.models.lumenize.config import LumenizeConfig
from gatewaysim.models.lumenize.prober import PROBER, PROBES, Probe, Prober
from gatewaysim.models.lumenize.world import LumenizeWorld
from gatewaysim.simulator.clock import MINUTE, Time, s
from gatewaysim.simulator.network import OPEN
from gatewaysim.simulator.world import World

from ..driver import Driver
from ..steps import step
from .statistics import LumenizeStatistics, TabFacts

USERS = 4
DOC = p.DEFAULT_DOCUMENT
#: What a laptop waking up fires, in the order browsers fire it, in one instant.
RESUME = ("online", "visible", "focus")

#: Any of the four users, with user 0 drawn more often: bugs live where several faults
#: and calls meet on the same tab, and a shared favourite makes that meeting likely.
client_index = st.one_of(st.just(0), st.integers(min_value=0, max_value=USERS - 1))
#: Mostly a few seconds, sometimes minutes. Long waits are a step of their own (``wait``):
#: drawn as often as any other step, so a 900 s token expires in a fair share of runs.
#: One draw in five is a round trip or a few (10 ms a hop): races between a fault and the
#: exchange it interrupts (a crash just after a supersession or a return, before the
#: gateway's next message) live in windows that short.
durations_ms = st.one_of(
    st.integers(min_value=1, max_value=250),
    st.integers(min_value=1, max_value=6_000),
    st.integers(min_value=1, max_value=6_000),
    st.integers(min_value=1, max_value=6_000),
    st.integers(min_value=6_000, max_value=3 * 60_000),
)

RUN_HORIZON: Time = 30 * MINUTE
"""A run's steps cover at most this much virtual time (two access-token lifetimes); an
``advance`` past it stops there. Every weakness the catalogue knows shows within one token
lifetime, and a run that ping-pongs for hours costs seconds of wall time per example."""


def instance_of(user: int) -> str:
    return f"u{user}.t1"


class LumenizeDriver(Driver):
    model_config: LumenizeConfig
    settle_bound: ClassVar[Time] = 3 * MINUTE
    """Long enough for the slowest honest recovery: a 30 s backoff ceiling, a 10 s connect
    timeout, a 30 s heartbeat to find a half-open socket, a 30 s call timeout, a
    resubscribe; and for a ping-pong or a retry loop to show in the last two minutes."""

    def setup(self) -> World:
        self.revoked: set[int] = set()
        self.tabs: dict[int, str] = {}  # user -> address of the open duplicate tab
        self.opened: list[tuple[int, str]] = []  # every duplicate tab ever opened, in order
        self.partitioned: set[int] = set()
        self.slow: set[int] = set()
        self.published: list[str] = []
        self.n = 0
        specs = [ClientSpec(f"u{i}", subscribe_to=(DOC,)) for i in range(USERS)]
        self.lw: LumenizeWorld = build_world(self.model_config, self.seed, specs,
                                             trace=self.trace)
        return self.lw.world

    def _next(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}:{self.n}"

    # ------------------------------------------------------------------ views
    def primary(self, user: int) -> str:
        return self.lw.clients[user]

    def gateway_address(self, user: int) -> str:
        return p.gateway_address(instance_of(user))

    def live_tabs(self, user: int) -> list[str]:
        tabs = [self.primary(user)]
        if user in self.tabs:
            tabs.append(self.tabs[user])
        return [a for a in tabs if self.world.host_up(a)]

    def client_state(self, address: str) -> str:
        return self.world.node(address).state

    def gateway_state(self, user: int) -> str:
        gw = self.lw.gateway(instance_of(user))
        if gw is None or not self.world.host_up(self.gateway_address(user)):
            return "down"
        return gw.state()

    def connected(self, address: str) -> bool:
        """The tab's current socket is OPEN at both ends, at its gateway, and it says so."""
        if not self.world.host_up(address):
            return False
        client = self.world.node(address)
        conn = self.world.network.connection(client.conn) if client.conn else None
        return (conn is not None and not conn.broken and conn.client_state == OPEN
                and conn.server_state == OPEN and conn.server is not None
                and conn.server.startswith(p.GATEWAY_PREFIX) and client.state == "connected")

    def _current_conn(self, address: str) -> str | None:
        if not self.world.host_up(address):
            return None
        conn = self.world.node(address).conn
        live = self.world.network.connection(conn) if conn else None
        return conn if live is not None and not live.broken else None

    def _reconnecting(self) -> bool:
        return any(self.client_state(self.primary(u)) == "reconnecting" for u in range(USERS))

    # ------------------------------------------------------------------ time
    @step(time_arg="ms", ms=durations_ms)
    def advance(self, ms: int) -> None:
        """Let virtual time pass (up to the run's horizon)."""
        until = min(self.now + ms * 1000, RUN_HORIZON)
        if until > self.now:
            self.world.run_until(until)
        now = self.now
        for user in range(USERS):
            stats = self.world.node(self.primary(user)).statistics()
            exp = stats["token_exp"]
            if stats["state"] == "reconnecting" and isinstance(exp, int) and exp * s(1) < now:
                self.cover("token expired while reconnecting")

    @step(minutes=st.integers(min_value=1, max_value=20))
    def wait(self, minutes: int) -> None:
        """Let minutes pass: long enough, at 15, for a default access token to expire."""
        self.advance(minutes * 60_000)

    # ------------------------------------------------------------------ network faults
    @step(fault="drop", client=client_index)
    def drop(self, client: int) -> None:
        """Break the tab's socket; both ends see 1006."""
        address = self.primary(client)
        conn = self._current_conn(address)
        if conn is None:
            return
        if self.world.node(address).refreshes:
            self.cover("drop during refresh")
        self.world.drop(conn)

    @step(fault="half_open", client=client_index, believer=st.sampled_from(["server", "client"]))
    def half_open(self, client: int, believer: str) -> None:
        """Break the socket telling only one end; the other believes it is still OPEN."""
        conn = self._current_conn(self.primary(client))
        if conn is None:
            return
        self.cover(f"half-open ({believer} believes)")
        self.world.half_open(conn, believer)

    def _backend(self, client: int) -> tuple[str, ...]:
        return (p.WORKER, self.gateway_address(client), p.AUTH)

    @step(fault="partition", client=client_index)
    def partition(self, client: int) -> None:
        """The tab goes offline: cut from the Worker, its gateway and the token service."""
        if client in self.partitioned:
            return
        self.partitioned.add(client)
        if self.gateway_state(client) == "grace":
            self.cover("partition during grace")
        for host in self._backend(client):
            self.world.partition(self.primary(client), host)

    @step(fault="partition", client=client_index)
    def heal(self, client: int) -> None:
        if client not in self.partitioned:
            return
        self.partitioned.discard(client)
        for host in self._backend(client):
            self.world.heal(self.primary(client), host)

    @step(fault="herd")
    def herd(self) -> None:
        """A gateway-wide drop (a deploy): every tab's socket breaks at the same instant."""
        dropped = {}
        for user in range(USERS):
            for address in self.live_tabs(user):
                conn = self._current_conn(address)
                if conn is not None:
                    dropped[address] = conn
        if not dropped:
            return
        self.cover(f"herd of {len(dropped)}")
        # One record names the whole herd: the herd monitor judges the tabs it dropped.
        self.world.fault("herd", clients=sorted(dropped))
        for conn in dropped.values():
            self.world.drop(conn)

    # ------------------------------------------------------------------ gateway faults
    @step(fault="crash", client=client_index)
    def crash_gateway(self, client: int) -> None:
        address = self.gateway_address(client)
        if not self.world.host_up(address):
            return
        gw = self.lw.gateway(instance_of(client))
        if gw is not None and gw.waiters:
            self.cover("gateway crash with parked call")
        self.cover(f"gateway crash while {self.gateway_state(client)}")
        # No restart step: a crashed Durable Object is recreated by the next request or
        # upgrade that reaches it (and heal_faults restarts any still down).
        self.world.crash(address)

    @step(fault="crash", client=client_index)
    def evict_gateway(self, client: int) -> None:
        """Hibernation: the runtime evicts a gateway that holds sockets and has nothing in
        flight (a Durable Object awaiting an RPC or a parked call is not idle, so it is
        never evicted). Memory and timers go; sockets, storage and the alarm stay."""
        gw = self.lw.gateway(instance_of(client))
        if gw is None or not self.world.host_up(self.gateway_address(client)):
            return
        stats = gw.statistics()
        if stats["pending_calls"] or stats["waiters"] or stats["outgoing"] \
                or not stats["open_sockets"]:
            return
        self.cover("gateway evicted")
        self.world.evict(self.gateway_address(client))

    @step(fault="crash")
    def evict_document(self) -> None:
        """Hibernation of ``doc/main``: the runtime evicts the broadcaster while it has no
        fan-out in flight (an object awaiting an RPC is not idle). Memory goes; its
        document and subscriber rows, in durable storage, must come back with it."""
        if self.lw.broadcaster().fanouts:
            return
        self.cover("document evicted")
        self.world.evict(DOC)

    # ------------------------------------------------------------------ token service
    @step(fault="token", ttl_s=st.sampled_from([5, 45, 120, 600]))
    def token_ttl(self, ttl_s: int) -> None:
        """Access tokens minted from now on last ``ttl_s`` seconds."""
        if self.world.host_up(p.AUTH):
            self.lw.inject(p.AUTH, p.SetTokenTtl(ttl_s))

    @step(fault="auth")
    def auth_down(self) -> None:
        if self.world.host_up(p.AUTH):
            if self._reconnecting():
                self.cover("auth down while reconnecting")
            self.world.crash(p.AUTH)

    @step(fault="auth")
    def auth_up(self) -> None:
        if not self.world.host_up(p.AUTH):
            self.world.restart(p.AUTH)

    @step(fault="auth", client=client_index)
    def slow_auth(self, client: int) -> None:
        """The token service answers this user slowly (2 s each way): refreshes overlap,
        and a duplicate tab's refresh outlasts its 50 ms probe. Every tab of the user is
        slowed, those opened later too: they share the user's network."""
        if client not in self.slow:
            self.slow.add(client)
            for address in self.live_tabs(client):
                self.world.slow_link(address, p.AUTH, s(2))

    @step(fault="auth", mode=st.sampled_from(["reject", "forbidden", "error", "ok"]))
    def auth_mode(self, mode: str) -> None:
        """``reject``: the token service answers every refresh 401; ``forbidden``: 403;
        ``error``: 503."""
        if self.world.host_up(p.AUTH):
            self.lw.inject(p.AUTH, p.AuthMode(mode))

    # ------------------------------------------------------------------ users
    @step(fault="duplicate_tab", client=client_index)
    def open_tab(self, client: int) -> None:
        """The user opens a second tab that shares the first one's instanceName."""
        if client in self.tabs:
            return
        state = self.gateway_state(client)
        if state == "grace":
            self.cover("duplicate tab during grace")
        # A duplicated tab: sessionStorage is cloned, so its tab id is already stored and
        # its first connect runs the 50 ms duplicate probe (which the model lets pass).
        self.tabs[client] = self.lw.add_client(ClientSpec(f"u{client}", subscribe_to=(DOC,),
                                                          tab_id_stored=True))
        self.opened.append((client, self.tabs[client]))
        if client in self.slow:
            self.world.slow_link(self.tabs[client], p.AUTH, s(2))

    @step(fault="duplicate_tab", client=client_index)
    def close_tab(self, client: int) -> None:
        """The user closes the second tab (the browser tears it down)."""
        address = self.tabs.pop(client, None)
        if address is not None:
            self.world.crash(address)

    @step(fault="gate", client=client_index)
    def revoke(self, client: int) -> None:
        """An admin withdraws the user's approval; tokens minted from now on fail the gate."""
        if client in self.revoked or not self.world.host_up(p.AUTH):
            return
        self.revoked.add(client)
        self.lw.inject(p.AUTH, p.SetUserClaims(f"u{client}", {"adminApproved": False}))

    # ------------------------------------------------------------------ traffic
    # Traffic and browser events are swarm groups too (``fault`` names the group): a run
    # that leaves out what does not matter to a bug gets to the steps that do sooner.
    @step(fault="mesh_calls", client=client_index)
    def call_client(self, client: int) -> None:
        """``node/main`` calls the tab's ``ping``; the result comes back to the node."""
        if self.gateway_state(client) == "grace":
            self.cover("mesh call parked during grace")
        tag = self._next("mc")
        self.lw.call_client(instance_of(client), "ping", [tag], tag=tag)

    @step(fault="client_calls", client=client_index, awaited=st.booleans())
    def client_call(self, client: int, awaited: bool) -> None:
        """The tab's app calls the Worker binding: ``callRaw`` (awaited) or ``call``."""
        tag = self._next("await" if awaited else "fire")
        if self.client_state(self.primary(client)) != "connected":
            self.cover("call while not connected")
        self.lw.client_call(self.primary(client), "echo", [tag], instance=None,
                            binding=p.WORKER_BINDING, awaited=awaited, tag=tag)

    @step(fault="broadcast")
    def broadcast(self) -> None:
        """The document changes and ``doc/main`` fans it out to its subscriber rows."""
        if any(self.gateway_state(u) == "grace" for u in range(USERS)):
            self.cover("broadcast during grace")
        content = self._next("v")
        self.published.append(content)
        self.lw.publish(content)

    @step(fault="subscriptions", client=client_index)
    def subscribe(self, client: int) -> None:
        self.lw.client_call(self.primary(client), "subscribe", tag=f"subscribe:{DOC}")

    @step(fault="subscriptions", client=client_index)
    def unsubscribe(self, client: int) -> None:
        self.lw.client_call(self.primary(client), "unsubscribe", tag=f"unsubscribe:{DOC}")

    @step(fault="wake", client=client_index,
          kind=st.sampled_from(["online", "visible", "focus", "resume"]))
    def wake(self, client: int, kind: str) -> None:
        """A browser event the client listens to; ``resume`` is a laptop waking up, which
        fires ``online``, ``visibilitychange`` and ``focus`` in one instant (each handler
        then sees the socket its predecessor just opened, still CONNECTING)."""
        tab = self.primary(client)
        for each in RESUME if kind == "resume" else (kind,):
            self.lw.inject(tab, p.WakeUp(each))

    # ------------------------------------------------------------------ malformed input
    def _prober(self) -> None:
        """Add the prober's host on first use, so runs without probes are unchanged."""
        if PROBER not in self.world.hosts:
            config, token = self.model_config, f"rt0.{PROBER}"
            self.world.inject(p.AUTH, p.GrantRefreshToken(token, "u0"))
            self.world.add_host(PROBER, lambda ctx: Prober(ctx, config, "u0",
                                                           instance_of(1), token))

    @step(fault="probes", kind=st.sampled_from(sorted(PROBES)))
    def probe(self, kind: str) -> None:
        """A misbehaving peer holding u0's access token sends one malformed or unexpected
        request (``models/lumenize/prober.py``); its answer is judged by the documented one."""
        self._prober()
        self.cover(f"probe {kind}")
        self.lw.inject(PROBER, Probe(kind))

    @step(fault="probes")
    def probe_sweep(self) -> None:
        """A scanner sends every malformed request of ``PROBES`` at once: one step runs each
        error path of the edge, so a campaign of a few hundred runs judges them all, in the
        middle of whatever faults the run has under way."""
        self._prober()
        self.cover("probe sweep")
        for kind in sorted(PROBES):
            self.lw.inject(PROBER, Probe(kind))

    # ------------------------------------------------------------------ settling
    def heal_faults(self) -> None:
        if self.partitioned:
            self.cover("settled while partitioned")
        self.partitioned.clear()
        self.world.heal()
        for user in range(USERS):
            address = self.gateway_address(user)
            if address in self.world.hosts and not self.world.host_up(address):
                self.cover("settled with a gateway down")
                self.world.restart(address)
        if not self.world.host_up(p.AUTH):
            self.world.restart(p.AUTH)
        for user in sorted(self.slow):
            for address in self.live_tabs(user):
                self.world.slow_link(address, p.AUTH, self.world.network.config.latency)
        self.slow.clear()
        self.lw.inject(p.AUTH, p.AuthMode("ok"))
        self.lw.inject(p.AUTH, p.SetTokenTtl(self.model_config.access_ttl_s))

    def statistics(self) -> LumenizeStatistics:
        tabs = [self._tab(user, self.primary(user)) for user in range(USERS)]
        tabs += [self._tab(user, address) for user, address in self.opened]
        gateways = []
        states = []
        for user in range(USERS):
            address = self.gateway_address(user)
            gw = self.lw.gateway(instance_of(user))
            if gw is not None and self.world.host_up(address):
                states.append((address, gw.statistics()["state"]))
            open_ends = tuple(ws.conn for ws in self.world.network.server_sockets(address)
                              if ws.ready_state == OPEN)
            if open_ends:
                gateways.append((address, open_ends))
        worker = self.world.node(p.WORKER).statistics()
        counters = [("worker.forwarded", worker["forwarded"]),
                    ("worker.rejected", worker["rejected"])]
        if self.world.host_up(p.AUTH):
            auth = self.lw.auth().statistics()
            counters += [("auth.issued", auth["issued"]), ("auth.refused", auth["refused"])]
        for tab in tabs:
            if tab.up:
                client = self.world.node(tab.address).statistics()
                counters += [(f"{tab.address}.connects", client["connects"]),
                             (f"{tab.address}.login_required", client["login_required"]),
                             (f"{tab.address}.pending", len(client["pending"])),
                             (f"{tab.address}.queued", client["queued"]),
                             (f"{tab.address}.leaked", client["leaked"]),
                             (f"{tab.address}.subscribed", len(client["subscribed"]))]
        return LumenizeStatistics(
            tabs=tuple(tabs), revoked=tuple(sorted(self.revoked)),
            rows=tuple(sorted(self.lw.broadcaster().subscribers)),
            gateway_sockets=tuple(gateways), published=tuple(self.published),
            gateway_states=tuple(states), counters=tuple(counters))

    def _tab(self, user: int, address: str) -> TabFacts:
        up = self.world.host_up(address)
        client = self.world.node(address) if up else None
        return TabFacts(address=address, user=user, instance=instance_of(user), up=up,
                        state=client.state if client is not None else "closed",
                        connected=self.connected(address),
                        conn=client.conn if client is not None else None,
                        document=(client.doc_version, client.doc_content)
                        if client is not None else (None, None))


__all__ = ["USERS", "LumenizeDriver", "instance_of"]
