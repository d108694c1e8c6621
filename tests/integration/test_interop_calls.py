"""Third-party tools against a running pbxedge: nmap's iax2-version, tshark on live calls."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pbxedge.iax2.enums import IE, IaxSubclass
from tests.integration.nodes import WireClient, start_pair, stop, wait_for_log

pytestmark = pytest.mark.interop
LIMIT_S = 120.0


@pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap not installed")
@pytest.mark.skipif(os.geteuid() != 0, reason="UDP scans need root")
def test_nmap_iax2_version_identifies_the_node(tmp_path: Path) -> None:
    pair = start_pair(tmp_path)
    try:
        result = subprocess.run(
            ["nmap", "-sU", "-p", str(pair.a.port), "--script", "+iax2-version", "127.0.0.1"],
            capture_output=True, text=True, timeout=LIMIT_S, check=False)
    finally:
        stop(pair.b)
        stop(pair.a)
    assert re.search(rf"^{pair.a.port}/udp\s+open\s+iax2", result.stdout, re.MULTILINE), (
        result.stdout)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.skipif(os.geteuid() != 0, reason="capturing on lo needs root")
def test_tshark_decodes_live_calls_without_malformed_frames(tmp_path: Path) -> None:
    pair = start_pair(tmp_path)
    capture = tmp_path / "calls.pcapng"
    errors = (tmp_path / "tshark.err").open("w")
    tshark = subprocess.Popen(
        ["tshark", "-i", "lo", "-f", f"udp port {pair.a.port}", "-w", str(capture)],
        stdout=subprocess.DEVNULL, stderr=errors)
    try:
        deadline = time.monotonic() + LIMIT_S
        while "Capturing on" not in (tmp_path / "tshark.err").read_text():
            assert time.monotonic() < deadline and tshark.poll() is None, "tshark did not start"
            time.sleep(0.05)
        # dumpcap reports "Capturing on" before its filter is attached; on a busy machine the
        # first packets after it can still be missed, so give it a moment.
        time.sleep(1.0)
        # The AES-forced call is left out: tshark cannot decrypt, and it reads ciphertext as
        # random frame types, some of which it then calls malformed.
        for number in ("1607", "3607", "5604"):  # MD5, RSA, busy
            client = WireClient(pair.b.port)
            client.new(number)
            end = client.until(IaxSubclass.HANGUP, IaxSubclass.REJECT)
            client.close()
            assert end.iax_subclass is IaxSubclass.HANGUP, end
            # Hangup(21) on A comes through; after BUSY, B's plan ends with Hangup() (16).
            assert end.ies().get_u8(IE.CAUSECODE) == (16 if number == "5604" else 21)
        wait_for_log(pair.b, "DIALSTATUS BUSY")
        time.sleep(0.5)  # let the last ACKs reach the capture before stopping it
    finally:
        tshark.send_signal(signal.SIGINT)
        tshark.wait(timeout=LIMIT_S)
        errors.close()
        stop(pair.b)
        stop(pair.a)
    result = subprocess.run(
        ["tshark", "-r", str(capture), "-d", f"udp.port=={pair.a.port},iax2", "-T", "fields",
         "-e", "frame.number", "-e", "iax2.packet_type", "-e", "_ws.malformed"],
        capture_output=True, text=True, check=True, timeout=LIMIT_S)
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert len(rows) > 20
    assert all(row[1] for row in rows)
    assert not [row for row in rows if len(row) > 2 and row[2]]
