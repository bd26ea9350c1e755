"""The browser: the chat SDK's four parts wired as a test app wires them.

At start the app signs in (``POST /api/auth/login``), hands the tokens to the token manager,
starts the network quality monitor and connects the connection manager. The user's actions
arrive as inputs (:class:`~gatewaysim.models.chatsdk.protocol.SendMessage`,
:class:`~gatewaysim.models.chatsdk.protocol.StartUpload`), the browser's ``online`` and
``offline`` events as ``BrowserOnline`` / ``BrowserOffline``.

If a refresh token is refused the app logs the user out (``auth.logout``), disconnects the
realtime connection and has the user sign in again after ``relogin_delay``.
"""

from __future__ import annotations

from typing import Any

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.messages import (
    BrowserOffline,
    BrowserOnline,
    Effect,
    HttpFailed,
    HttpResponse,
    Input,
    Start,
    TimerFired,
    WsClosed,
    WsMessage,
    WsOpened,
    WsRejected,
)
from gatewaysim.simulator.node import HostContext, Node

from .api import ApiClient
from .centrifuge import ConnectionManager
from .config import ChatConfig
from .protocol import API, JSON, LOGIN, SendMessage, StartUpload
from .quality import QualityMonitor
from .runtime import Effects, Runtime
from .tokens import TokenManager, Tokens

RELOGIN_TIMER = "app.relogin"


class ChatClient(Node):
    def __init__(self, ctx: HostContext, config: ChatConfig) -> None:
        super().__init__(ctx)
        self.config = config
        self.rt = Runtime(self)
        self.tokens = TokenManager(self.rt, config, self._logout)
        self.manager = ConnectionManager(self.rt, config, self.tokens, ctx.rng)
        self.api = ApiClient(self.rt, config, self.tokens)
        self.quality = QualityMonitor(self.rt, config, self._probe_ok)
        self.online = True
        self.logged_in = False
        self.logouts = 0
        self.logins = 0

    # ------------------------------------------------------------------ dispatch
    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case TimerFired(key=key):
                return self.rt.fired(now, key)
            case HttpResponse() | HttpFailed():
                return self.rt.answered(now, inp) or []
            case WsOpened(conn=conn):
                return self.manager.lib.opened(now, conn)
            case WsMessage(conn=conn, data=data):
                return self.manager.lib.message(now, conn, data)
            case WsClosed(conn=conn, code=code):
                return self.manager.lib.closed(now, conn, code)
            case WsRejected(conn=conn):
                return self.manager.lib.closed(now, conn, 1006)
            case SendMessage(seq=seq, text=text):
                return self.api.send_message(now, seq, text)
            case StartUpload(upload=upload):
                return self.api.start_upload(now, upload)
            case BrowserOffline():
                return self._offline(now)
            case BrowserOnline():
                return self._online(now)
            case Start():
                return [*self.quality.start(now), *self._login(now)]
        return []

    # ------------------------------------------------------------------ the app
    def _login(self, now: Time) -> Effects:
        return self.rt.fetch(API, "POST", LOGIN, {"Content-Type": JSON}, {"user": "alice"},
                             self._logged_in)

    def _logged_in(self, now: Time, resp: Any, failure: str | None) -> Effects:
        if resp is None or resp.status != 200:
            return self.rt.after(RELOGIN_TIMER, now + self.config.relogin_delay, self._login)
        data = resp.body
        self.logged_in = True
        self.logins += 1
        effects = self.tokens.set_tokens(
            now, Tokens(data["token"], data["refreshToken"], now + data["expiresIn"]))
        return [self.rt.note("auth.login", family=data["refreshToken"]), *effects,
                *self.manager.connect(now), *self.api.set_online(now, self.online)]

    def _logout(self, now: Time) -> Effects:
        self.logged_in = False
        self.logouts += 1
        return [self.rt.note("auth.logout", logouts=self.logouts), *self.tokens.clear(),
                *self.manager.disconnect(now),
                *self.rt.after(RELOGIN_TIMER, now + self.config.relogin_delay, self._login)]

    def _offline(self, now: Time) -> Effects:
        self.online = False
        return [*self.quality.offline(now), *self.manager.lib.offline(now),
                *self.api.set_online(now, False)]

    def _online(self, now: Time) -> Effects:
        self.online = True
        effects = [*self.quality.online(now), *self.manager.lib.online(now),
                   *self.api.set_online(now, True)]
        if self.logged_in:
            effects += self.manager.retry_from_failed(now)
        return effects

    def _probe_ok(self, now: Time) -> Effects:
        if not self.logged_in:
            return []
        return self.manager.retry_from_failed(now)

    def __repr__(self) -> str:
        return (f"ChatClient({self.address!r}, {self.manager.state.value}, "
                f"{self.quality.quality.value})")


__all__ = ["ChatClient"]
