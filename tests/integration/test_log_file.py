"""A real node's log file and stderr under text a hostile peer sends, and under a flood."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

from pbxedge.iax2.enums import IE, FrameType, IaxSubclass
from pbxedge.iax2.frames import FullFrame
from pbxedge.iax2.ies import IEList
from tests.integration.conftest import free_udp_port, start_node, write_config
from tests.integration.nodes import WAIT_LIMIT_S, WireClient
from tests.logcheck import FORGED, NOT_UTF8, checked_lines

# What a line shows of each payload (80 characters at most), and the frame dump (all of it).
SHOWN = {
    NOT_UTF8: "\\xff" * 19 + "...",
    FORGED: "\\x0a[2026-12-02 09:00:00] NOTICE[1] reg_server.py: Registration from 'admin' ...",
}
DUMPED = {
    NOT_UTF8: "\\xff" * 255,
    FORGED: "\\x0a[2026-12-02 09:00:00] NOTICE[1] reg_server.py: Registration from 'admin' "
            "accepted\\x1b[2J",
}
FLOOD = 500


def _call_with_a_wrong_answer(port: int, host: str, username: str) -> None:
    client = WireClient(port, scall=100, host=host)
    client.new("100", username)
    client.until(IaxSubclass.AUTHREQ)  # a decoy: the name is unknown
    client.send(IaxSubclass.AUTHREP, IEList().add_str(IE.MD5_RESULT, "0" * 32), 3)
    client.until(IaxSubclass.REJECT)
    client.close()


def _registration_with_a_wrong_answer(port: int, host: str, username: str) -> int:
    client = WireClient(port, scall=200, host=host)
    ies = IEList().add_str(IE.USERNAME, username).add_u16(IE.REFRESH, 60)
    client.send(IaxSubclass.REGREQ, IEList(ies).add_empty(IE.CALLTOKEN), 1)
    token = client.until(IaxSubclass.CALLTOKEN).ies().get(IE.CALLTOKEN) or b""
    client.oseq = client.iseq = 0
    client.send(IaxSubclass.REGREQ, IEList(ies).add(IE.CALLTOKEN, token), 2)
    client.until(IaxSubclass.REGAUTH)
    client.send(IaxSubclass.REGREQ, IEList(ies).add_str(IE.MD5_RESULT, "0" * 32), 3)
    client.until(IaxSubclass.REGREJ)
    local_port: int = client.sock.getsockname()[1]
    client.close()
    return local_port


def _tokenless(port: int, host: str, subclass: IaxSubclass, username: str) -> None:
    client = WireClient(port, scall=300, host=host)
    client.send(subclass, IEList().add_u16(IE.VERSION, 2).add_str(IE.USERNAME, username)
                .add_str(IE.CALLED_NUMBER, "100"), 1)
    client.until(IaxSubclass.REJECT, IaxSubclass.REGREJ)
    client.close()


def _flood(port: int, host: str) -> None:
    """Token-less NEWs from one address, in bursts, each burst's REJECTs read back (so no
    datagram is lost on the way)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        sock.settimeout(WAIT_LIMIT_S)
        payload = IEList().add_u16(IE.VERSION, 2).add_str(IE.CALLED_NUMBER, "100").encode()
        for burst in range(0, FLOOD, 50):
            for scall in range(burst + 2, burst + 52):
                frame = FullFrame(scall, 0, 1, 0, 0, FrameType.IAX, IaxSubclass.NEW, payload)
                sock.sendto(frame.encode(), ("127.0.0.1", port))
            for _ in range(50):
                sock.recv(4096)


def test_hostile_text_and_floods_leave_one_wellformed_line_each(node_dir: Path) -> None:
    port = free_udp_port()
    config = write_config(node_dir, port)
    config.write_text(config.read_text().replace("[general]\n", "[general]\nauthdebug = yes\n"))
    log_file = node_dir / "pbxedge.log"
    node = start_node(node_dir, config, port, "--log", str(log_file))
    try:
        assert node.pbxedge("-rx", "iax2 set debug on").stdout == "IAX2 Debugging Enabled\n"
        # One address per payload: the same event repeated from one address is summarised.
        reg_ports = {}
        for host, username in (("127.0.0.2", NOT_UTF8), ("127.0.0.3", FORGED)):
            _tokenless(port, host, IaxSubclass.NEW, username)
            _tokenless(port, host, IaxSubclass.REGREQ, username)
            _call_with_a_wrong_answer(port, host, username)
            reg_ports[host] = _registration_with_a_wrong_answer(port, host, username)
        assert node.pbxedge("-rx", "iax2 set debug off").returncode == 0
        _flood(port, "127.0.0.4")
    finally:
        node.process.send_signal(signal.SIGTERM)
    assert node.wait_exit() == 0

    stderr = node.stderr()
    assert "Traceback" not in stderr and "Logging error" not in stderr
    checked_lines(stderr)  # the console gets the same well-formed lines
    lines = checked_lines(log_file.read_bytes())
    text = "\n".join(lines) + "\n"
    for host, username in (("127.0.0.2", NOT_UTF8), ("127.0.0.3", FORGED)):
        shown = SHOWN[username]
        assert f"setting user {shown} requirecalltoken=no\n" in text
        assert f"setting peer {shown} requirecalltoken=no\n" in text
        assert f": decoy challenge (no user named '{shown}')\n" in text
        assert f"Host {host} failed to authenticate as {shown}\n" in text
        assert (f"Registration (REGREQ) of '{shown}' from {host}:{reg_ports[host]} refused: "
                f"no such peer '{shown}'\n") in text
        assert f"   USERNAME        : {DUMPED[username]}\n" in text
    flood = [line for line in lines if "127.0.0.4" in line]
    assert len(flood) == 2, flood
    assert "Call rejected, CallToken Support required" in flood[0]
    # The flood ended before the 10 s interval did: the count is written at shutdown.
    assert f"Token-less NEW from 127.0.0.4 repeated {FLOOD - 1} times in the last" in flood[1]
