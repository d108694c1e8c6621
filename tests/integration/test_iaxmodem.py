"""iaxmodem (libiax2, no call tokens) registers to pbxedge with MD5 and qualifies OK."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pbxedge.media.dsp import dominant_frequency
from tests.integration.conftest import free_udp_port
from tests.integration.regnodes import RegNode, general, peer_row

pytestmark = pytest.mark.interop

IAXMODEM = shutil.which("iaxmodem")
# Real seconds iaxmodem may live; the test kills it long before unless something hangs.
MODEM_LIFETIME_S = 90


@pytest.fixture
def modem_node(node_dir: Path) -> Iterator[RegNode]:
    port = free_udp_port()
    node = RegNode(node_dir / "pbx", port, general(port) + (
        "[iaxmodem]\ntype = friend\nhost = dynamic\nauth = md5\nsecret = modemsecret\n"
        "requirecalltoken = no\nqualify = yes\ncontext = from-iax\n"
        'callerid = "IAX Modem" <8005551212>\n'))
    node.start()
    yield node
    node.stop()


@pytest.mark.skipif(IAXMODEM is None, reason="iaxmodem is not installed")
def test_iaxmodem_registers_with_md5_and_shows_ok(node_dir: Path, modem_node: RegNode) -> None:
    assert IAXMODEM is not None
    modem_dir = (node_dir / "modem").absolute()
    modem_dir.mkdir()
    modem_port = free_udp_port()
    (modem_dir / "ttyIAXtest").write_text(
        f"device\t{modem_dir}/ttyIAX0\nowner\troot:root\nmode\t660\nport\t{modem_port}\n"
        f"refresh\t60\nserver\t127.0.0.1:{modem_node.port}\npeername\tiaxmodem\n"
        "secret\tmodemsecret\ncidname\tTest Modem\ncidnumber\t8005551212\ncodec\tulaw\n"
    )
    log = (modem_dir / "iaxmodem.log").open("wb")
    # iaxmodem appends the name to /etc/iaxmodem/; "../.." + an absolute path escapes it.
    modem = subprocess.Popen(
        ["timeout", "-k", "1", str(MODEM_LIFETIME_S), IAXMODEM,
         f"../..{modem_dir}/ttyIAXtest"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        peers = modem_node.wait_for("iax2 show peers", peer_row("iaxmodem", modem_port))
        assert "1 iax2 peers [1 online, 0 offline, 0 unmonitored]" in peers
        assert "Registered IAX2 'iaxmodem' (AUTHENTICATED)" in modem_node.stderr()
    finally:
        modem.terminate()
        modem.wait()
        log.close()


def _at(device: Path, commands: list[tuple[str, float]]) -> None:
    """AT commands on iaxmodem's pty, in raw mode (ecosystem notes: cooked mode mangles)."""
    fd = os.open(device, os.O_RDWR | os.O_NOCTTY)
    try:
        tty.setraw(fd)
        for command, wait in commands:
            os.write(fd, (command + "\r").encode())
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if ready:
                    os.read(fd, 1024)
    finally:
        os.close(fd)


@pytest.mark.skipif(IAXMODEM is None, reason="iaxmodem is not installed")
def test_iaxmodem_call_to_echo_gets_its_audio_back(node_dir: Path) -> None:
    """The fax modem dials Echo (slin) and sends its 1100 Hz calling tone; with `record`
    iaxmodem keeps what it sent and what came back, and the two must be the same tone."""
    assert IAXMODEM is not None
    port, modem_port = free_udp_port(), free_udp_port()
    peername = f"mdm{modem_port}"
    node = RegNode(node_dir / "pbx", port, general(port, "disallow = all\nallow = slin\n") + (
        f"[{peername}]\ntype = friend\nhost = dynamic\nauth = md5\nsecret = modemsecret\n"
        "requirecalltoken = no\ncontext = echo\n"))
    node.folder.mkdir(parents=True)
    (node.folder / "extensions.conf").write_text("[echo]\nexten => 600,1,Answer()\n"
                                                 " same => n,Echo()\n")
    node.start()
    modem_dir = (node_dir / "modem").absolute()
    modem_dir.mkdir()
    (modem_dir / "ttyIAXecho").write_text(
        f"device\t{modem_dir}/ttyIAX0\nowner\troot:root\nmode\t660\nport\t{modem_port}\n"
        f"refresh\t0\nserver\t127.0.0.1:{port}\npeername\t{peername}\n"
        "secret\tmodemsecret\ncidname\tTest Modem\ncidnumber\t8005551212\ncodec\tslinear\n"
        "record\n")
    recordings = [Path(f"/tmp/{peername}-{kind}.raw{suffix}")
                  for kind in ("dsp", "iax") for suffix in ("", ".recording")]
    modem = subprocess.Popen(
        ["timeout", "-k", "1", str(MODEM_LIFETIME_S), IAXMODEM, f"../..{modem_dir}/ttyIAXecho"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (modem_dir / "ttyIAX0").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        _at(modem_dir / "ttyIAX0", [("ATZ", 0.5), ("AT+FCLASS=1", 0.5), ("ATDT600", 6.0)])
        assert "authenticated as" in node.stderr()
    finally:
        modem.terminate()
        modem.wait()
        node.stop()
    sent = _newest(recordings, "dsp")
    heard = _newest(recordings, "iax")
    for path in recordings:
        path.unlink(missing_ok=True)
    assert len(sent) > 8000 and len(heard) > 8000
    assert abs(dominant_frequency(sent) - 1100) < 5  # the modem's CNG tone
    assert abs(dominant_frequency(heard) - 1100) < 5  # ... and its echo
    assert int(np.abs(heard).max()) > 1000


def _newest(paths: list[Path], kind: str) -> np.ndarray:
    found = [p for p in paths if f"-{kind}." in p.name and p.exists()]
    assert found, f"iaxmodem wrote no {kind} recording"
    return np.fromfile(max(found, key=lambda p: p.stat().st_mtime), dtype="<i2")
