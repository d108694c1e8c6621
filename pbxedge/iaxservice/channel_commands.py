"""Console commands about calls, in Asterisk's layouts (reference iax2.md §9).

``iax2 show channels``, ``iax2 show netstats``, ``iax2 show stats``,
``iax2 show callnumber usage [IP]``, ``iax2 set debug on|off|peer NAME``,
``core show channels`` and ``channel request hangup NAME|all`` (these two also see the
node's other channels, its local phones). The printf formats are Asterisk's, kept as C-style
``%`` formats so they can be compared with chan_iax2.c.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pbxedge.channels.iax import IaxChannel
from pbxedge.channels.media import MediaChannel
from pbxedge.control.registry import CommandContext, CommandRegistry, Handler, UsageError
from pbxedge.iax2.call import CallInfo
from pbxedge.iax2.callstate import CallState
from pbxedge.iax2.codecs import codec_name
from pbxedge.iax2.enums import Cause
from pbxedge.iax2.showframe import format_addr
from pbxedge.iaxservice.call_host import CallHost

__all__ = [
    "netstats_rows",
    "register_channel_commands",
    "show_callnumber_usage",
    "show_channels",
    "show_core_channels",
    "show_netstats",
    "show_stats",
]

_CHANNELS_HEADER = (
    "%-20.20s  %-40.40s  %-10.10s  %-11.11s  %-11.11s  %-7.7s  %-6.6s  %-6.6s  %s  %s  %9s\n"
)
_CHANNELS_ROW = (
    "%-20.20s  %-40.40s  %-10.10s  %5.5d/%5.5d  %5.5d/%5.5d  %-5.5dms  %-4.4dms  %-4.4dms"
    "  %-6.6s  %s%s  %3s%s\n"
)
_NETSTATS_HEADER = (
    "                                -------- LOCAL ---------------------"
    "  -------- REMOTE --------------------\n"
    "Channel                    RTT  Jit  Del  Lost   %  Drop  OOO  Kpkts"
    "  Jit  Del  Lost   %  Drop  OOO  Kpkts FirstMsg    LastMsg\n"
)
_NETSTATS_ROW = (
    "%-24.25s %4u %4d %4d %5d %3d %5d %4d %6d %4d %4d %5d %3d %5d %4d %6d %s%s %4s%s\n"
)
_USAGE_HEADER = "%-45s %-12s %-12s\n"
_USAGE_ROW = "%-45s %-12d %-12d\n"
_CORE_FORMAT = "%-20.20s %-20.20s %-7.7s %-30.30s\n"
# Without a jitter buffer Asterisk reports these local figures (ast_cli_netstats).
_NO_JB_JITTER = -1
_NO_JB_DELAY = 0
_STATE_NAMES = {"down": "Down", "ring": "Ring", "ringing": "Ringing", "up": "Up"}


def _ess(count: int) -> str:
    return "" if count == 1 else "s"


def _split_message(label: str) -> tuple[str, str]:
    """``Tx:NEW`` → (``Tx:``, ``NEW``); Asterisk prints direction and name separately."""
    direction, sep, name = label.partition(":")
    return (f"{direction}:", name) if sep else ("", label)


def _format_name(info: CallInfo) -> str:
    codec = info.rx_format or info.tx_format
    return codec_name(codec) if codec else "(nothing)"


def _jitter_and_buffer(info: CallInfo) -> tuple[int, int]:
    """The jitter buffer's jitter and delay (ms), or Asterisk's -1 and 0 without one."""
    if info.jitterbuffer:
        return info.local_rr.jitter, info.local_rr.delay
    return _NO_JB_JITTER, _NO_JB_DELAY


def _rows(svc: CallHost) -> list[tuple[CallInfo, IaxChannel | None]]:
    endpoint = svc.iax.endpoint
    rows: list[tuple[CallInfo, IaxChannel | None]] = []
    for callno in endpoint.calls():
        info = endpoint.call_info(callno)
        if info.state is CallState.DESTROYED:
            continue
        rows.append((info, svc.channel_of(callno)))
    return rows


def show_channels(svc: CallHost) -> str:
    out = [_CHANNELS_HEADER % ("Channel", "Peer", "Username", "ID (Lo/Rem)", "Seq (Tx/Rx)",
                               "Lag", "Jitter", "JitBuf", "Format", "FirstMsg", "LastMsg")]
    rows = _rows(svc)
    for info, channel in rows:
        first = _split_message(info.first_message)
        last = _split_message(info.last_message)
        out.append(_CHANNELS_ROW % (
            channel.name if channel else "(None)",
            info.addr[0],
            (channel.username if channel else "") or "(None)",
            info.callno, info.peer_callno, info.oseqno, info.iseqno,
            info.lag_ms, *_jitter_and_buffer(info),
            _format_name(info), first[0], first[1], last[0], last[1],
        ))
    out.append(f"{len(rows)} active IAX channel{_ess(len(rows))}\n")
    return "".join(out)


def netstats_rows(svc: CallHost) -> list[tuple[object, ...]]:
    """The values of one ``iax2 show netstats`` row per call (the manager's IAXnetstats
    prints them too, in its own layout)."""
    rows: list[tuple[object, ...]] = []
    for info, channel in _rows(svc):
        first = _split_message(info.first_message)
        last = _split_message(info.last_message)
        local, remote = info.local_rr, info.remote_rr
        # Local figures: the jitter buffer's; without one, jitter and loss are unknown (-1, as
        # Asterisk prints them then) and the packet and out-of-order counts are the call's
        # own. Remote figures are what the peer's last PONG carried in its RR IEs (save_rr).
        if info.jitterbuffer:
            lost, loss_pct, dropped = local.loss_count, local.loss_pct, local.dropped
        else:
            lost, loss_pct, dropped = -1, -1, 0
        rows.append((
            channel.name if channel else "(None)",
            max(0, info.rtt_ms), *_jitter_and_buffer(info), lost, loss_pct, dropped, local.ooo,
            local.packets // 1000,
            remote.jitter, remote.delay, remote.loss_count, remote.loss_pct, remote.dropped,
            remote.ooo, remote.packets // 1000,
            first[0], first[1], last[0], last[1],
        ))
    return rows


def show_netstats(svc: CallHost) -> str:
    rows = netstats_rows(svc)
    out = [_NETSTATS_HEADER, *(_NETSTATS_ROW % row for row in rows)]
    out.append(f"{len(rows)} active IAX channel{_ess(len(rows))}\n")
    return "".join(out)


def show_stats(svc: CallHost) -> str:
    endpoint = svc.iax.endpoint
    egress = endpoint.pending_retransmits()
    final = 0
    for callno in endpoint.calls():
        info = endpoint.call_info(callno)
        if info.state is CallState.HANGING_UP:
            final += info.unacked
    wire = svc.iax.transport.stats
    voice_in, voice_out = endpoint.voice_frames()
    dropped = endpoint.stats
    # Asterisk's four lines, then pbxedge's own counters (what a load test checks against).
    return (
        "    IAX Statistics\n"
        "---------------------\n"
        f"Outstanding frames: {egress} (0 ingress, {egress} egress)\n"
        f"0 timed and 0 untimed transmits; MTU 0/0/{svc.config.general.trunkmtu}\n"
        f"Packets in transmit queue: 0 dead, {final} final, {egress} total\n\n"
        f"Datagrams: {wire.datagrams_received} received, {wire.datagrams_sent} sent\n"
        f"Voice frames: {voice_in} received, {voice_out} sent\n"
        f"Calls: {svc.processed} processed, {svc.active_calls} active\n"
        f"Dropped: {dropped.malformed} malformed, {dropped.undecryptable} undecryptable, "
        f"{dropped.unknown_call} for unknown calls, {dropped.invalid_tokens} invalid tokens\n"
        f"Stateless replies: {dropped.stateless_replies}\n"
    )


def show_callnumber_usage(svc: CallHost, ip: str | None) -> str:
    usage = svc.iax.pool.usage(ip, svc.iax.now())
    out = [_USAGE_HEADER % ("Address", "Callno Usage", "Callno Limit")]
    for row in usage.addresses:
        out.append(_USAGE_ROW % (row.ip, row.used, row.limit))
    if ip is None:
        out.append(
            f"\nNon-CallToken Validation Callno Limit: {usage.nonvalidated_limit}\n"
            f"Non-CallToken Validated Callno Used:   {usage.nonvalidated_used}\n"
            f"Total Available Callno:                {usage.total_available}\n"
            f"Regular Callno Available:              {usage.regular_available}\n"
            f"Trunk Callno Available:                {usage.trunk_available}\n"
        )
    elif not usage.addresses:
        out.append(f"No call number table entries for {ip} found\n")
    return "".join(out)


def _all_channels(svc: CallHost) -> list[MediaChannel]:
    """Every live channel of the node, oldest first."""
    channels: list[MediaChannel] = [channel for channel, _ in svc.channels()]
    for source in svc.channel_sources:
        channels.extend(source.live_channels())
    return sorted(channels, key=lambda channel: channel.created_at)


def show_core_channels(svc: CallHost) -> str:
    out = [_CORE_FORMAT % ("Channel", "Location", "State", "Application(Data)")]
    channels = _all_channels(svc)
    for channel in channels:
        where = svc.engine.location(channel.name)
        out.append(_CORE_FORMAT % (channel.name, where.location if where else "(None)",
                                   _STATE_NAMES.get(channel.state.value, channel.state.value),
                                   where.application if where else "(None)"))
    calls = svc.active_calls + sum(source.active_calls for source in svc.channel_sources)
    processed = svc.processed + sum(source.processed for source in svc.channel_sources)
    out.append(f"{len(channels)} active channel{_ess(len(channels))}\n")
    out.append(f"{calls} active call{_ess(calls)}\n")
    out.append(f"{processed} call{_ess(processed)} processed\n")
    return "".join(out)


def show_core_channel(svc: CallHost, name: str) -> str:
    """``core show channel NAME``: the general block of Asterisk's layout, with the formats."""
    channel = svc.channel_named(name)
    if channel is None:
        return f"{name} is not a known channel\n"
    native = codec_name(channel.codec) if channel.codec else "(nothing)"
    read = codec_name(channel.rx_codec) if channel.rx_codec else native
    state = _STATE_NAMES.get(channel.state.value, channel.state.value)
    elapsed = int(time.time() - channel.created_at)
    where = svc.engine.location(channel.name)
    rows = [
        (" -- General --", None),
        ("Name", channel.name), ("Type", "IAX2"), ("UniqueID", channel.uniqueid),
        ("Caller ID", channel.caller_num or "(N/A)"),
        ("Caller ID Name", channel.caller_name or "(N/A)"),
        ("DNID Digits", channel.dnid or "(N/A)"), ("Language", channel.language),
        ("State", state), ("NativeFormats", f"({native})"), ("WriteFormat", native),
        ("ReadFormat", read),
        ("Elapsed Time", f"{elapsed // 3600}h{elapsed // 60 % 60}m{elapsed % 60}s"),
        (" -- PBX --", None),
        ("Context", where.context if where else "(N/A)"),
        ("Extension", where.exten if where else "(N/A)"),
        ("Priority", str(where.priority) if where else "(N/A)"),
        ("Application", where.app if where and where.app else "(N/A)"),
        ("Data", where.data if where and where.app else "(None)"),
    ]
    return "".join(f"{label}\n" if value is None else f"{label:>15}: {value}\n"
                   for label, value in rows)


def _listing(show: Callable[[CallHost], str], svc: CallHost) -> Handler:
    """A command that takes no arguments and prints *show*'s layout."""

    def handler(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        return show(svc)

    return handler


def register_channel_commands(registry: CommandRegistry, svc: CallHost) -> None:
    channels = _listing(show_channels, svc)
    netstats = _listing(show_netstats, svc)
    stats = _listing(show_stats, svc)
    core_channels = _listing(show_core_channels, svc)

    def usage(ctx: CommandContext, args: list[str]) -> str:
        if len(args) > 1:
            raise UsageError
        return show_callnumber_usage(svc, args[0] if args else None)

    def core_channel(ctx: CommandContext, args: list[str]) -> str:
        if len(args) != 1:
            raise UsageError
        return show_core_channel(svc, args[0])

    def hangup(ctx: CommandContext, args: list[str]) -> str:
        if len(args) != 1:
            raise UsageError
        targets = _all_channels(svc)
        if args[0].lower() != "all":
            targets = [channel for channel in targets if channel.name == args[0]][-1:]
            if not targets:
                return f"{args[0]} is not a known channel\n"
        lines = []
        for channel in targets:
            svc.nursery.start_soon(channel.hangup, int(Cause.NORMAL_CLEARING))
            lines.append(f"Requested Hangup on channel '{channel.name}'\n")
        return "".join(lines)

    def debug(ctx: CommandContext, args: list[str]) -> str:
        words = [a.lower() for a in args]
        if words == ["on"]:
            svc.iax.debug.set(True)
            return "IAX2 Debugging Enabled\n"
        if words == ["off"]:
            svc.iax.debug.set(False)
            return "IAX2 Debugging Disabled\n"
        if len(words) == 2 and words[0] == "peer":
            addr = svc.peers.address_of(args[1])
            if addr is None:
                return f"Unable to find peer '{args[1]}'\n"
            svc.iax.debug.set(True, addr)
            return f"IAX2 Debugging Enabled for IP: {format_addr(*addr)}\n"
        raise UsageError

    registry.register("iax2 show channels", channels, summary="List active IAX channels",
                      usage="Usage: iax2 show channels\n       Lists all currently active IAX "
                      "channels.")
    registry.register("iax2 show netstats", netstats, summary="List active IAX channel netstats",
                      usage="Usage: iax2 show netstats\n       Lists network status for all "
                      "currently active IAX channels.")
    registry.register("iax2 show stats", stats, summary="Display IAX statistics",
                      usage="Usage: iax2 show stats\n       Display statistics on IAX channel "
                      "driver.")
    registry.register("iax2 show callnumber usage", usage,
                      summary="Show current entries in IP call number limit table",
                      usage="Usage: iax2 show callnumber usage [IP address]\n       Shows current "
                      "IP addresses which are consuming iax2 call numbers.")
    registry.register("iax2 set debug", debug, summary="Enable/Disable IAX debugging",
                      usage="Usage: iax2 set debug {on|off|peer peername}\n       Enables/Disables "
                      "dumping of IAX packets for debugging purposes.")
    registry.register("core show channels", core_channels, summary="Display information on "
                      "channels", usage="Usage: core show channels\n       Lists currently "
                      "defined channels and some information about them.")
    registry.register("core show channel", core_channel, summary="Display information on a "
                      "specific channel", usage="Usage: core show channel <channel>\n       "
                      "Shows lots of information about the specified channel.")
    registry.register("channel request hangup", hangup, summary="Request a hangup on a given "
                      "channel", usage="Usage: channel request hangup <channel>|<all>\n       "
                      "Request that a channel be hung up.")
