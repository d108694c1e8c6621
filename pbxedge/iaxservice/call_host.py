"""What the calls of a node, and the console commands about them, use of the call service.

:class:`~pbxedge.iaxservice.calls.CallService` creates the calls and registers the
commands; they see it only through :class:`CallHost`, so neither imports the other.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

import trio

from dialplan.engine import Engine
from pbxedge.cdr.recorder import CdrRecorder
from pbxedge.channels.iax import IaxChannel
from pbxedge.channels.media import MediaChannel, MediaEnv
from pbxedge.config.iax_models import IaxConfig
from pbxedge.iax2.auth import AuthMethodMemory, AuthRequestCounter, SecretResolver
from pbxedge.iaxservice.peers import PeerDirectory
from pbxedge.iaxservice.service import IaxService
from pbxedge.keys import KeyStore
from pbxedge.media.jitterbuffer import JitterBufferSettings
from pbxedge.realtime.accounts import RealtimeAccounts

__all__ = ["CallHost", "ChannelSource"]


class ChannelSource(Protocol):
    """The channels of another technology of the node (local phones), which the console's
    ``core show channels`` lists with the IAX2 ones."""

    def live_channels(self) -> Sequence[MediaChannel]: ...

    @property
    def active_calls(self) -> int:
        """Of those, the ones running the dialplan."""
        ...

    @property
    def processed(self) -> int:
        """Calls of theirs that ran the dialplan since start."""
        ...


class CallHost(Protocol):
    iax: IaxService
    config: IaxConfig
    keys: KeyStore
    engine: Engine
    peers: PeerDirectory
    rng: random.Random
    memory: AuthMethodMemory  # the methods a decoy challenge repeats
    authreqs: AuthRequestCounter  # maxauthreq
    secret_resolver: SecretResolver | None  # dbsecret
    processed: int  # calls since start
    media_env: MediaEnv  # sound folders and music on hold for the channels
    cdr: CdrRecorder | None  # where finished calls leave their record
    realtime: RealtimeAccounts | None  # users and peers of the realtime table (extconfig.conf)
    channel_sources: list[ChannelSource]  # the node's other channels, for the console

    def jitter_settings(self, enabled: bool) -> JitterBufferSettings | None:
        """The jitter buffer for a user or peer with ``jitterbuffer=yes``, else None."""
        ...

    @property
    def nursery(self) -> trio.Nursery:
        """Where calls run their tasks; stopping the service cancels them."""
        ...

    @property
    def active_calls(self) -> int: ...

    def add_channel(self, channel: IaxChannel, callno: int, *, call: bool = False) -> None: ...

    def remove_channel(self, channel: IaxChannel) -> None: ...

    def channels(self) -> list[tuple[IaxChannel, int]]: ...

    def channel_named(self, name: str) -> IaxChannel | None: ...

    def channel_of(self, callno: int) -> IaxChannel | None: ...
