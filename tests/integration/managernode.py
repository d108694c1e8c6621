"""A node with its manager interface enabled, for the manager tests: accounts, a dialplan
with the extensions they call, and manager.conf users."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from tests.integration.amiclient import free_tcp_port
from tests.integration.conftest import RunningNode, free_udp_port, start_node
from tests.integration.nodes import stop, wait_for_log, write_node
from tests.integration.regnodes import poll

FLOOD = 1000  # UserEvents the "flood" extension sends in one go


def iax_conf(port: int) -> str:
    """The node also registers to itself (selfreg), for the Registry and PeerStatus events."""
    return f"""[general]
bindport = {port}
bindaddr = 127.0.0.1
disallow = all
allow = ulaw
register => selfreg:regsecret@127.0.0.1:{port}

[guest]
type = user
context = media
requirecalltoken = no

[static1]
type = peer
host = 127.0.0.1
port = 24570

[selfreg]
type = friend
host = dynamic
secret = regsecret
context = media
"""


def extensions(port: int) -> str:
    return f"""[globals]
PAD={"x" * 300}

[media]
exten => echo,1,Answer()
 same => n,Echo()
exten => wait,1,Answer()
 same => n,Wait(30)
 same => n,Hangup()
exten => moved,1,UserEvent(Moved,Where: ${{CHANNEL}})
 same => n,Wait(30)
exten => busy,1,Busy(5)
exten => dialself,1,Dial(IAX2/guest@127.0.0.1:{port}/echo,10)
exten => flood,1,Answer()
 same => n,Set(I=0)
 same => n(top),UserEvent(Flood,Seq: ${{I}},Payload: ${{PAD}})
 same => n,Set(I=$[${{I}} + 1])
 same => n,GotoIf($[${{I}} < {FLOOD}]?top)
 same => n,Hangup()
"""


def manager_conf(port: int) -> str:
    return f"""[general]
enabled = yes
port = {port}
bindaddr = 127.0.0.1

[admin]
secret = amipass
read = all
write = all
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255

[calls]
secret = callpass
read = call
write = call
eventfilter = !Event: Newstate
"""


class ManagerNode:
    def __init__(self, node: RunningNode, ami: int) -> None:
        self.node = node
        self.ami = ami

    @property
    def iax(self) -> int:
        return self.node.port


def _registered(node: RunningNode) -> str | None:
    shown = node.pbxedge("-rx", "iax2 show registry").stdout
    return shown if re.search(r"\sRegistered$", shown, re.MULTILINE) else None


def running_manager_node(folder: Path) -> Iterator[ManagerNode]:
    """Start the node in *folder*; yields it, stops it after."""
    port, ami = free_udp_port(), free_tcp_port()
    config = write_node(folder, iax_conf(port), extensions(port))
    (folder / "manager.conf").write_text(manager_conf(ami))
    node = start_node(folder, config, port, "-vvv")
    try:
        wait_for_log(node, "pbxedge Ready.")
        # The Registry event of its own registration must not land in a test's session.
        assert poll(lambda: _registered(node)) is not None, node.stderr()[-4000:]
        yield ManagerNode(node, ami)
    finally:
        stop(node)
