"""Console commands about trunking: ``iax2 show trunks``, ``iax2 set debug trunk on|off``
and ``iax2 set mtu N|default|0`` (the last two with Asterisk's messages)."""

from __future__ import annotations

from pbxedge.control.registry import CommandContext, CommandRegistry, UsageError
from pbxedge.iax2.showframe import format_addr
from pbxedge.iax2.trunk import DEFAULT_TRUNKMTU
from pbxedge.iaxservice.call_host import CallHost

__all__ = ["register_trunk_commands", "show_trunks"]

_HEADER = "%-15.15s  %-21.21s  %5s  %9s  %10s  %9s  %10s  %7s\n"
_ROW = "%-15.15s  %-21.21s  %5d  %9.1f  %10.0f  %9.1f  %10.0f  %7d\n"
_MTU_RANGE = (172, 4000)  # handle_cli_iax2_set_mtu


def show_trunks(svc: CallHost) -> str:
    """Every address trunk frames go to or come from: our trunk calls toward it, datagrams
    and bytes per second each way, entries dropped because ``trunkmaxsize`` was reached."""
    stats = svc.iax.endpoint.trunks.stats(svc.iax.now())
    lines = [_HEADER % ("Peer", "Address", "Calls", "Tx dgm/s", "Tx bytes/s", "Rx dgm/s",
                        "Rx bytes/s", "Dropped")]
    for row in sorted(stats, key=lambda s: s.addr):
        name = svc.peers.peer_at(row.addr) or "(unknown)"
        lines.append(_ROW % (name, format_addr(*row.addr), row.calls, row.tx_datagrams_per_s,
                             row.tx_bytes_per_s, row.rx_datagrams_per_s, row.rx_bytes_per_s,
                             row.dropped))
    settings = svc.iax.endpoint.trunks.settings
    mtu = f"MTU {settings.mtu}" if settings.mtu else "no MTU"
    lines.append(f"{len(stats)} trunk peer{'' if len(stats) == 1 else 's'} "
                 f"(tick {settings.freq_ms} ms, {mtu}, up to {settings.maxsize} bytes per peer, "
                 f"timestamps {'on' if settings.timestamps else 'off'})\n")
    return "".join(lines)


def register_trunk_commands(registry: CommandRegistry, svc: CallHost) -> None:
    def trunks(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        return show_trunks(svc)

    def debug_trunk(ctx: CommandContext, args: list[str]) -> str:
        words = [a.lower() for a in args]
        if words == ["on"]:
            svc.iax.debug.trunk = True
            return "IAX2 Trunk Debugging Enabled\n"
        if words == ["off"]:
            svc.iax.debug.trunk = False
            return "IAX2 Trunk Debugging Disabled\n"
        raise UsageError

    def mtu(ctx: CommandContext, args: list[str]) -> str:
        if len(args) != 1:
            raise UsageError
        settings = svc.iax.endpoint.trunks.settings
        if args[0].lower() == "default":
            value = DEFAULT_TRUNKMTU
        else:
            try:
                value = int(args[0])
            except ValueError:
                raise UsageError from None
        if value == 0:
            old, settings.mtu = settings.mtu, 0
            return f"Trunk MTU control disabled (mtu was {old})\n"
        if not _MTU_RANGE[0] <= value <= _MTU_RANGE[1]:
            return f"Trunk MTU must be between {_MTU_RANGE[0]} and {_MTU_RANGE[1]}\n"
        old, settings.mtu = settings.mtu, value
        return f"Trunk MTU changed from {old} to {value}\n"

    registry.register("iax2 show trunks", trunks, summary="List IAX2 trunk peers and traffic",
                      usage="Usage: iax2 show trunks\n       Lists the addresses trunk frames "
                      "go to or come from, with calls, rates and drops.")
    registry.register("iax2 set debug trunk", debug_trunk,
                      summary="Enable/Disable IAX trunk debugging",
                      usage="Usage: iax2 set debug trunk {on|off}\n       Enables/Disables "
                      "debugging of IAX trunking")
    registry.register("iax2 set mtu", mtu, summary="Set the IAX systemwide trunking MTU",
                      usage="Usage: iax2 set mtu <value>\n       Set the system-wide IAX IP mtu "
                      "to <value> bytes net or\n       zero to disable. Disabling means that "
                      "the operating system\n       must handle fragmentation of UDP packets "
                      "when the IAX2 trunk\n       packet exceeds the UDP payload size. This "
                      "is substantially below\n       the IP mtu. Try 1240 on ethernets. Must "
                      "be 172 or greater for G.711\n       samples.")
