"""A chat SDK world: the browser, the API and Centrifugo, the faults, and the ground truth.

:class:`ChatWorld` wraps a kernel :class:`~gatewaysim.simulator.world.World` with the
actions a scenario or a driver takes (send a message, drop the WebSocket, make the link
lossy, take the auth service down...) and with :meth:`ChatWorld.true_quality`, the quality
the indicator *should* show given what the network really is at this instant, which the
accuracy figure compares the indicator against.
"""

from __future__ import annotations

from gatewaysim.simulator.clock import MS, Time
from gatewaysim.simulator.network import NetworkConfig
from gatewaysim.simulator.trace import Trace
from gatewaysim.simulator.world import World

from .client import ChatClient
from .config import ChatConfig
from .protocol import (
    API,
    BROWSER,
    REALTIME,
    ConnectionState,
    FailUploadsAt,
    NetworkQuality,
    RotateSigningKey,
    SendMessage,
    SetAuthMode,
    StartUpload,
)
from .quality import classify
from .server import ApiServer, RealtimeServer

SERVERS = (API, REALTIME)


class ChatWorld:
    """The hosts of one chat SDK run and the things a test does to them."""

    def __init__(self, config: ChatConfig, seed: int, trace: Trace | None = None,
                 hold_in_flight: bool = False) -> None:
        self.config = config
        net = NetworkConfig(latency=config.latency, connect_timeout=config.connect_timeout,
                            http_unreachable=config.http_unreachable,
                            hold_in_flight=hold_in_flight)
        self.world = World(seed, network=net, trace=trace)
        self.world.add_host(API, lambda ctx: ApiServer(ctx, config))
        self.world.add_host(REALTIME, lambda ctx: RealtimeServer(ctx, config))
        self.world.add_host(BROWSER, lambda ctx: ChatClient(ctx, config))
        self.next_seq = 1
        self.loss = 0.0
        self.one_way: Time = config.latency
        self.partitioned = False
        self.auth_up = True

    # ------------------------------------------------------------------ access
    @property
    def client(self) -> ChatClient:
        return self.world.node(BROWSER)

    @property
    def api(self) -> ApiServer | None:
        return self.world.node(API) if self.world.host_up(API) else None

    @property
    def now(self) -> Time:
        return self.world.now

    def run_for(self, duration: Time) -> None:
        self.world.run_for(duration)

    def run_until(self, until: Time) -> None:
        self.world.run_until(until)

    # ------------------------------------------------------------------ user actions
    def send_message(self, text: str = "") -> int:
        seq = self.next_seq
        self.next_seq += 1
        self.world.inject(BROWSER, SendMessage(seq, text or f"message {seq}"))
        return seq

    def start_upload(self, upload: str = "file1") -> None:
        self.world.inject(BROWSER, StartUpload(upload))

    # ------------------------------------------------------------------ faults
    def drop_ws(self) -> bool:
        """Break the browser's WebSocket (both ends see 1006); False if there is none."""
        conn = self.client.manager.lib.conn
        if conn is None or self.world.network.connection(conn) is None:
            return False
        self.world.drop(conn)
        return True

    def partition(self) -> None:
        for server in SERVERS:
            self.world.partition(BROWSER, server)
        self.partitioned = True

    def heal_partition(self) -> None:
        for server in SERVERS:
            self.world.heal(BROWSER, server)
        self.partitioned = False

    def set_loss(self, loss: float) -> None:
        for server in SERVERS:
            self.world.lossy_link(BROWSER, server, loss)
        self.loss = loss

    def set_latency(self, one_way: Time) -> None:
        for server in SERVERS:
            self.world.slow_link(BROWSER, server, one_way)
        self.one_way = one_way

    def go_offline(self) -> None:
        self.world.go_offline(BROWSER)

    def go_online(self) -> None:
        self.world.go_online(BROWSER)

    def set_auth(self, up: bool) -> None:
        self.auth_up = up
        if self.world.host_up(API):
            self.world.inject(API, SetAuthMode(up))

    def rotate_signing_key(self) -> None:
        if self.world.host_up(API):
            self.world.inject(API, RotateSigningKey())

    def fail_uploads_at(self, upload: str, offset: int, until: Time) -> None:
        self.world.inject(API, FailUploadsAt(upload, offset, until))

    def crash(self, host: str) -> None:
        self.world.crash(host)

    def restart(self, host: str) -> None:
        self.world.restart(host)
        if host == API and not self.auth_up:
            self.world.inject(API, SetAuthMode(False))

    # ------------------------------------------------------------------ truth
    @property
    def offline(self) -> bool:
        return BROWSER in self.world.network.offline

    def true_quality(self) -> NetworkQuality:
        """The code's table applied to what the link really is: round trip, loss in %,
        reachability of the ping endpoint."""
        reachable = (not self.offline and not self.partitioned and self.world.host_up(API))
        return classify(reachable, 2 * self.one_way / MS, 100.0 * self.loss)

    def connected(self) -> bool:
        """The browser holds a Centrifugo connection the server holds too."""
        lib = self.client.manager.lib
        if lib.conn is None or lib.client_id is None:
            return False
        conn = self.world.network.connection(lib.conn)
        return conn is not None and not conn.broken and lib.conn in self._rt_conns()

    def _rt_conns(self) -> dict[str, Time]:
        node = self.world.node(REALTIME) if self.world.host_up(REALTIME) else None
        return node.conns if isinstance(node, RealtimeServer) else {}

    def state(self) -> ConnectionState:
        return self.client.manager.state


def build_world(config: ChatConfig, seed: int, trace: Trace | None = None,
                hold_in_flight: bool = False) -> ChatWorld:
    return ChatWorld(config, seed, trace, hold_in_flight)


__all__ = ["SERVERS", "ChatWorld", "build_world"]
