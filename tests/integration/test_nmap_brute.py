"""nmap's iax2-brute against the registrar: the REGREL path authenticates like REGREQ."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import free_udp_port
from tests.integration.regnodes import RegNode, friend, general, registered_row

pytestmark = pytest.mark.interop

NMAP = shutil.which("nmap")
NMAP_LIMIT_S = 120


@pytest.mark.skipif(NMAP is None, reason="nmap is not installed")
def test_brute_force_finds_only_the_listed_secret(node_dir: Path) -> None:
    assert NMAP is not None
    port, client_port = free_udp_port(), free_udp_port()
    registrar = RegNode(node_dir / "a", port, general(port)
                        + friend("md5peer", "secret = letmein")
                        + friend("otherpeer", "secret = notinthelist")
                        + friend("client", "secret = clientsecret"))
    client = RegNode(node_dir / "b", client_port, general(client_port)
                     + f"register => client:clientsecret@127.0.0.1:{port}\n")
    (node_dir / "users.txt").write_text("md5peer\nghost\notherpeer\n")
    (node_dir / "pass.txt").write_text("wrong1\nletmein\nwrong2\n")
    registrar.start()
    try:
        client.start()
        client.wait_for("iax2 show registry", registered_row(port, "client"))
        # "+" forces the script: its port rule only fires on 4569 (ecosystem.md §C.3).
        result = subprocess.run(
            [NMAP, "-n", "-sU", "-p", str(port), "--script", "+iax2-brute", "--script-args",
             f"userdb={node_dir / 'users.txt'},passdb={node_dir / 'pass.txt'},"
             "brute.threads=1", "127.0.0.1"],
            capture_output=True, text=True, timeout=NMAP_LIMIT_S, check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "md5peer:letmein - Valid credentials" in result.stdout, result.stdout
        assert "otherpeer:" not in result.stdout and "ghost:" not in result.stdout
        assert "ERROR" not in result.stdout
        # The registrar kept serving: a fresh registration of another peer goes through.
        assert client.rx("iax2 register now client").startswith("Registering 'client'")
        client.wait_for("iax2 show registry", registered_row(port, "client"))
        registrar.wait_for("iax2 show peers", r"^client\s+127\.0\.0\.1\s+\(D\).*OK \(")
    finally:
        client.stop()
        registrar.stop()
    # The guesses are logged as a first refusal and a count (written at the latest when the
    # node stops), not one line each.
    log = registrar.stderr()
    assert re.search(r"Registration \(REG(REQ|REL)\) of '\w+' from 127\.0\.0\.1:\d+ refused: ",
                     log), log
    assert re.search(r"Refused REG(REQ|REL) from 127\.0\.0\.1 repeated \d+ times? in the last",
                     log), log
