"""iaxmodem (libiax2, no call tokens) registers to pbxedge with MD5 and qualifies OK."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

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
