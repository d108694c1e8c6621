"""The node's call service: incoming and outgoing IAX2 calls and their channels.

Wires the pieces together: NEWs from :class:`~pbxedge.iaxservice.service.IaxService` become
:class:`~pbxedge.iaxservice.inbound.InboundCall` s, the dialplan's ``Dial`` reaches
:class:`~pbxedge.iaxservice.outbound.IaxDialer`, and the console sees every channel.
Dialplan runs, delayed REJECTs and key rotations are tasks in this service's nursery; when
the node stops, :meth:`CallService.stop` hangs every call up before they are cancelled.
"""

from __future__ import annotations

import logging
import random
from collections import Counter

import trio

from dialplan.engine import Engine
from pbxedge import log
from pbxedge.cdr.recorder import CdrRecorder
from pbxedge.channels.iax import IaxChannel
from pbxedge.channels.media import MediaEnv
from pbxedge.config.iax_models import IaxConfig
from pbxedge.control.registry import CommandRegistry
from pbxedge.events import Hangup
from pbxedge.iax2.auth import AuthMethodMemory, AuthRequestCounter, SecretResolver
from pbxedge.iax2.callstate import CallStateError
from pbxedge.iax2.endpoint import UnknownCall
from pbxedge.iax2.enums import Cause, IaxSubclass
from pbxedge.iax2.events import NewCall
from pbxedge.iaxservice.call_host import ChannelSource
from pbxedge.iaxservice.channel_commands import register_channel_commands
from pbxedge.iaxservice.inbound import InboundCall
from pbxedge.iaxservice.outbound import IaxDialer
from pbxedge.iaxservice.peers import PeerDirectory
from pbxedge.iaxservice.service import IaxService
from pbxedge.iaxservice.trunk_commands import register_trunk_commands
from pbxedge.keys import KeyStore
from pbxedge.media.jitterbuffer import JitterBufferSettings
from pbxedge.realtime.accounts import RealtimeAccounts
from pbxedge.store import Store

__all__ = ["CallService"]

logger = logging.getLogger("pbxedge.iax2")


class CallService:
    """Calls in and out of this node."""

    name = "calls"

    def __init__(self, iax: IaxService, *, config: IaxConfig, keys: KeyStore,
                 store: Store | None, engine: Engine, peers: PeerDirectory,
                 media_env: MediaEnv | None = None, cdr: CdrRecorder | None = None,
                 realtime: RealtimeAccounts | None = None) -> None:
        self.iax = iax
        self.realtime = realtime
        self.media_env = media_env or MediaEnv()
        self.cdr = cdr
        self.config = config
        self.keys = keys
        self.engine = engine
        self.peers = peers
        self.rng: random.Random = iax.rng
        self.memory = AuthMethodMemory()
        self.authreqs = AuthRequestCounter()
        self.secret_resolver: SecretResolver | None = store.db_get if store is not None else None
        self.dialer = IaxDialer(self)
        engine.services.dialer = self.dialer
        iax.on_request(IaxSubclass.NEW, self._on_new)
        self._channels: dict[str, tuple[IaxChannel, int]] = {}
        self._calls: set[str] = set()  # channels running the dialplan: one per call
        self.processed = 0
        self.channel_sources: list[ChannelSource] = []
        # For the metrics: channels opened by direction, and closed by hangup cause.
        self.started: Counter[str] = Counter()
        self.ended: Counter[int] = Counter()
        self._nursery: trio.Nursery | None = None

    @property
    def nursery(self) -> trio.Nursery:
        if self._nursery is None:
            raise RuntimeError("the call service is not running")
        return self._nursery

    def reconfigure(self, config: IaxConfig, keys: KeyStore) -> None:
        """New calls use a reloaded config and keys; each live call keeps the user or peer
        it was set up with, so a removed account's call goes on to its end."""
        self.config = config
        self.keys = keys

    # -- channels -------------------------------------------------------------------------

    def jitter_settings(self, enabled: bool) -> JitterBufferSettings | None:
        """The ``[general]`` jitter-buffer figures for a user or peer with ``jitterbuffer=yes``."""
        if not enabled:
            return None
        general = self.config.general
        return JitterBufferSettings(maxjitterbuffer=general.maxjitterbuffer,
                                    resyncthreshold=general.resyncthreshold,
                                    maxjitterinterps=general.maxjitterinterps,
                                    jittertargetextra=general.jittertargetextra)

    def _on_new(self, event: NewCall) -> None:
        call = InboundCall(self, event)
        self.iax.own(event.callno, call)
        call.start()

    def add_channel(self, channel: IaxChannel, callno: int, *, call: bool = False) -> None:
        """Track a live channel; *call*: it runs the dialplan (an incoming call)."""
        self._channels[channel.name] = (channel, callno)
        self.started["inbound" if call else "outbound"] += 1
        if call:
            self._calls.add(channel.name)
            self.processed += 1

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    def remove_channel(self, channel: IaxChannel) -> None:
        if self._channels.get(channel.name, (None, 0))[0] is channel:
            del self._channels[channel.name]
            self._calls.discard(channel.name)
            self.ended[channel.hangup_cause] += 1
            # Asterisk's "Hungup 'IAX2/…'" (verbose 3), with the cause operators look for.
            logger.info("Hungup '%s' (cause %d)", channel.name, channel.hangup_cause)
            if channel.env.events.active:
                channel.env.events.publish(Hangup(channel, channel.hangup_cause))

    def channels(self) -> list[tuple[IaxChannel, int]]:
        """Live channels with their call numbers, oldest first."""
        return sorted(self._channels.values(), key=lambda item: item[0].created_at)

    def channel_named(self, name: str) -> IaxChannel | None:
        found = self._channels.get(name)
        return found[0] if found is not None else None

    def channel_of(self, callno: int) -> IaxChannel | None:
        for channel, number in self._channels.values():
            if number == callno:
                return channel
        return None

    # -- service --------------------------------------------------------------------------

    def register_commands(self, registry: CommandRegistry) -> None:
        register_channel_commands(registry, self)
        register_trunk_commands(registry, self)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None

    async def stop(self) -> None:
        """Refuse new calls and send every live call a HANGUP (cause 16).

        Synchronous in effect: the HANGUPs are on the wire when this returns, and the IAX2
        service, stopped after this one, waits for their ACKs.
        """
        self.iax.withdraw(IaxSubclass.NEW)
        endpoint = self.iax.endpoint
        hung_up = 0
        for channel, callno in list(self._channels.values()):
            # Marked first, so the dialplan sees a hung-up channel and sends nothing more.
            channel.remote_hangup(Cause.NORMAL_CLEARING)
            try:
                endpoint.hangup(callno, Cause.NORMAL_CLEARING, self.iax.now())
            except (UnknownCall, CallStateError):
                continue
            hung_up += 1
        self.iax.kick()
        if hung_up:
            log.notice(f"Hung up {hung_up} call{'s' if hung_up != 1 else ''} at shutdown")
