"""The ``pbxedge`` command: run a node, check its files, or talk to a running one."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pbxedge import __version__
from pbxedge.control.client import ConsoleBusy, ControlClient, NotRunningError
from pbxedge.control.completion import command_names_from_help, completions
from pbxedge.control.limits import ConsoleLimits
from pbxedge.control.protocol import ProtocolError
from pbxedge.paths import DEFAULT_CONFIG, NodePaths, resolve_paths

__all__ = ["main"]

PROMPT = "pbxedge*CLI> "
_Number = TypeVar("_Number", int, float)

_EPILOG = """\
subcommands:
  pbxedge decode [--port N] [--secret S] FILE   print the IAX2 frames of a capture
  pbxedge keygen ...                            create an RSA key pair for IAX2
  pbxedge realtime-sql {tables|migrate}         print the Realtime SQL, for psql
  pbxedge load calls|register|poke|flood HOST   load an IAX2 server (pbxedge load -h)

file locations (all derived from -c unless given):
  extensions.conf  <confdir>/extensions.conf
  RSA keys         <confdir>/keys, or <confdir>/../keys when only that exists
  state            <confdir>/var (SQLite file and the control socket pbxedge.ctl)
  logger.conf      <confdir>/logger.conf; relative log files in <state>/log

signals:
  SIGHUP reloads every configuration file (as the console's "reload");
  SIGTERM and SIGINT hang up the calls and stop the node.

environment:
  PBXEDGE_CONFIG_MAX_BYTES   most bytes a config file with its includes may hold (16 MiB)
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pbxedge",
        description="An Asterisk-compatible IAX2 PBX edge node.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-c", "--config", type=Path, default=DEFAULT_CONFIG,
                        help=f"iax.conf to use (default: {DEFAULT_CONFIG})")
    parser.add_argument("--extensions", type=Path, metavar="FILE",
                        help="extensions.conf (default: beside iax.conf)")
    parser.add_argument("--keys", type=Path, metavar="DIR",
                        help="RSA key directory (default: <confdir>/keys, else <confdir>/../keys)")
    parser.add_argument("--state", type=Path, metavar="DIR",
                        help="state directory: database and control socket (default: <confdir>/var)")
    parser.add_argument("--sounds", type=Path, metavar="DIR",
                        help="sound prompts (default: <confdir>/sounds, then the built-in set)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more verbose messages (repeat: -vvv)")
    parser.add_argument("-d", "--debug", action="count", default=0,
                        help="debug messages (repeat for more)")
    parser.add_argument("--log", type=Path, metavar="FILE",
                        help="also append log lines to FILE")
    parser.add_argument("--logdir", type=Path, metavar="DIR",
                        help="folder of logger.conf's relative log files (default: <state>/log)")
    parser.add_argument("--pidfile", type=Path, metavar="FILE",
                        help="write the node's process id to FILE while it runs")
    defaults = ConsoleLimits()
    parser.add_argument("--console-max-clients", type=_positive(int), metavar="N",
                        default=defaults.max_clients,
                        help="console connections served at once; more are told the console "
                             f"is busy (default: {defaults.max_clients})")
    parser.add_argument("--console-idle-timeout", type=_positive(float), metavar="SECONDS",
                        default=defaults.idle_timeout,
                        help="close console connections idle this long; pbxedge -r reopens "
                             f"its own unnoticed (default: {defaults.idle_timeout:g})")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="validate every configuration file and the keys, then exit")
    parser.add_argument("--trunk-peer", type=Path, metavar="FILE",
                        help="with --check: the iax.conf of the node at the far end of a "
                             "trunk, to check that the two files fit together")
    mode.add_argument("-r", "--remote", action="store_true",
                      help="open a console on the running instance")
    parser.add_argument("-x", "--execute", metavar="COMMAND",
                        help="with -r (as in -rx): run one console command and print its output")
    parser.add_argument("-V", "--version", action="version", version=f"pbxedge {__version__}")
    return parser


def _positive(kind: Callable[[str], _Number]) -> Callable[[str], _Number]:
    def parse(text: str) -> _Number:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid value: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
        return value

    return parse


def _paths(args: argparse.Namespace) -> NodePaths:
    return resolve_paths(args.config, args.extensions, args.keys, args.state, args.sounds,
                         args.logdir)


def _check(paths: NodePaths, trunk_peer: Path | None) -> int:
    from pbxedge.control.check import load_node_files

    files = load_node_files(paths, trunk_peer=trunk_peer)
    for problem in files.problems:
        print(problem.text)
    return 1 if files.has_errors else 0


def _remote_execute(paths: NodePaths, command: str) -> int:

    try:
        with ControlClient(paths.control_socket) as client:
            sys.stdout.write(client.execute(command))
    except (NotRunningError, ConsoleBusy) as exc:
        print(exc, file=sys.stderr)
        return 1
    except (OSError, ProtocolError) as exc:
        print(f"Lost the connection to pbxedge: {exc}", file=sys.stderr)
        return 1
    return 0


def _enable_line_editing(command_names: list[str]) -> None:
    """History and tab completion of command words, when readline exists."""
    try:
        import readline
    except ImportError:
        return

    def complete(text: str, state: int) -> str | None:
        candidates = completions(command_names, readline.get_line_buffer()[: readline.get_endidx()])
        return candidates[state] + " " if state < len(candidates) else None

    readline.set_completer(complete)
    readline.set_completer_delims(" ")
    readline.parse_and_bind("tab: complete")


def _remote_console(paths: NodePaths) -> int:

    try:
        with ControlClient(paths.control_socket, timeout=None) as client:
            return _console_loop(client)
    except (NotRunningError, ConsoleBusy) as exc:
        print(exc, file=sys.stderr)
        return 1
    except (OSError, ProtocolError):
        print("Disconnected from pbxedge", file=sys.stderr)
        return 1


def _console_loop(client: ControlClient) -> int:
    """Read commands until exit/quit/EOF; Ctrl-C only abandons the current line."""

    _enable_line_editing(command_names_from_help(client.execute("help")))
    print(f"Connected to pbxedge {__version__} via {client.socket_path}")
    while True:
        try:
            line = input(PROMPT).strip()
        except EOFError:
            print()
            return 0
        except KeyboardInterrupt:
            print()
            continue
        if line.lower() in ("exit", "quit"):
            return 0
        if not line:
            continue
        try:
            sys.stdout.write(client.execute(line))
        except ConsoleBusy as exc:
            # Only after the node closed this idle console and had no room for it again.
            print(exc, file=sys.stderr)


def _run(paths: NodePaths, args: argparse.Namespace) -> int:
    import trio

    from pbxedge.node import NodeOptions, run_node

    options = NodeOptions(paths, verbosity=args.verbose, debug=args.debug, log_file=args.log,
                          console=ConsoleLimits(args.console_max_clients,
                                                args.console_idle_timeout),
                          pidfile=args.pidfile.expanduser().absolute() if args.pidfile else None)
    return trio.run(run_node, options)


def _subcommand(argv: list[str]) -> int | None:
    """``pbxedge decode|keygen|realtime-sql|load …``, or None for the node's own options."""
    if not argv:
        return None
    if argv[0] == "decode":
        from pbxedge.decode import main as decode_main

        return decode_main(argv[1:])
    if argv[0] == "keygen":
        from pbxedge.keys import keygen_main

        return keygen_main(argv[1:])
    if argv[0] == "realtime-sql":
        from pbxedge.realtime.schema import realtime_sql_main

        return realtime_sql_main(argv[1:])
    if argv[0] == "load":
        from pbxedge.load.main import main as load_main

        return load_main(argv[1:])
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    status = _subcommand(argv)
    if status is not None:
        return status
    parser = _parser()
    args = parser.parse_args(argv)
    if args.execute is not None and not args.remote:
        parser.error("-x needs -r (use -rx \"COMMAND\")")
    paths = _paths(args)
    if args.trunk_peer is not None and not args.check:
        parser.error("--trunk-peer needs --check")
    if args.check:
        return _check(paths, args.trunk_peer)
    if args.remote:
        if args.execute is not None:
            return _remote_execute(paths, args.execute)
        return _remote_console(paths)
    return _run(paths, args)
