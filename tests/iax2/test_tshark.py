"""tshark as the oracle: our decoding of real and generated traffic must match Wireshark's."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime
from functools import cache
from pathlib import Path

import pytest

from pbxedge.decode import DecodedDatagram, decode_capture
from pbxedge.iax2.enums import IE, ControlSubclass, FrameType, IaxSubclass
from pbxedge.iax2.frames import (
    Frame,
    FullFrame,
    MetaTrunkFrame,
    MetaVideoFrame,
    MiniFrame,
    TrunkEntry,
    compress_subclass,
    iax_frame,
)
from pbxedge.iax2.ies import IEList
from pbxedge.pcap import read_udp
from tests.iax2.pcaputil import write_pcap
from tests.vectors import CAPTURES, IAX_PORTS, capture

pytestmark = pytest.mark.interop

FIELDS = (
    "frame.number",
    "iax2.packet_type",
    "iax2.type",
    "iax2.iax.subclass",
    "iax2.control.subclass",
    "iax2.voice.subclass",
    "iax2.video.subclass",
    "iax2.dtmf.subclass",
    "iax2.text.subclass",
    "iax2.html.subclass",
    "iax2.modem.subclass",
    "iax2.subclass",
    "iax2.src_call",
    "iax2.dst_call",
    "iax2.retransmission",
    "iax2.oseqno",
    "iax2.iseqno",
    "iax2.timestamp",
    "iax2.ie_id",
    "iax2.video.marker",
    "iax2.trunk.cmddata.ts",
    "iax2.trunk.call.scallno",
    "iax2.trunk.call.ts",
    "_ws.malformed",
)

# Which tshark field carries the subclass byte, by frame type.
SUBCLASS_FIELD = {
    FrameType.DTMF_END: "iax2.dtmf.subclass",
    FrameType.DTMF_BEGIN: "iax2.dtmf.subclass",
    FrameType.VOICE: "iax2.voice.subclass",
    FrameType.VIDEO: "iax2.video.subclass",
    FrameType.CONTROL: "iax2.control.subclass",
    FrameType.IAX: "iax2.iax.subclass",
    FrameType.TEXT: "iax2.text.subclass",
    FrameType.HTML: "iax2.html.subclass",
    FrameType.MODEM: "iax2.modem.subclass",
}
PACKET_TYPE = {MiniFrame: "0", FullFrame: "1", MetaVideoFrame: "2", MetaTrunkFrame: "3"}

Row = dict[str, str]


def _tshark(path: Path, ports: tuple[int, ...] = ()) -> dict[int, Row]:
    binary = shutil.which("tshark")
    if binary is None:
        pytest.skip("tshark is not installed")
    args = [binary, "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t"]
    for port in ports:
        args += ["-d", f"udp.port=={port},iax2"]
    for name in FIELDS:
        args += ["-e", name]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True)
    rows: dict[int, Row] = {}
    for line in proc.stdout.splitlines():
        values = line.split("\t")
        row = dict(zip(FIELDS, values + [""] * (len(FIELDS) - len(values)), strict=True))
        rows[int(row["frame.number"])] = row
    return rows


def _expected(frame: Frame) -> Row:
    """The tshark fields our decoding predicts."""
    out: Row = {"iax2.packet_type": PACKET_TYPE[type(frame)]}
    if isinstance(frame, FullFrame):
        csub = compress_subclass(frame.subclass)
        field = SUBCLASS_FIELD.get(FrameType(frame.frametype), "iax2.subclass")
        dtmf = frame.frametype in (FrameType.DTMF_BEGIN, FrameType.DTMF_END)
        out.update(
            {
                "iax2.type": str(frame.frametype),
                field: chr(csub) if dtmf else str(csub),
                # tshark leaves a zero source call number empty.
                "iax2.src_call": str(frame.source_call) if frame.source_call else "",
                "iax2.dst_call": str(frame.dest_call),
                "iax2.retransmission": "1" if frame.retransmitted else "0",
                "iax2.oseqno": str(frame.oseqno),
                "iax2.iseqno": str(frame.iseqno),
                "iax2.timestamp": str(frame.timestamp),
            }
        )
        if frame.frametype == FrameType.IAX:
            out["iax2.ie_id"] = ",".join(str(ie) for ie, _ in frame.ies())
    elif isinstance(frame, MiniFrame):
        out["iax2.src_call"] = str(frame.source_call)
    elif isinstance(frame, MetaVideoFrame):
        out["iax2.src_call"] = str(frame.source_call)
        out["iax2.timestamp"] = str(frame.timestamp)
    else:
        out["iax2.trunk.cmddata.ts"] = "1" if frame.with_timestamps else "0"
        calls = [str(e.call) for e in frame.entries]
        if frame.with_timestamps:
            out["iax2.trunk.call.scallno"] = ",".join(calls)
            out["iax2.trunk.call.ts"] = ",".join(str(e.timestamp) for e in frame.entries)
        else:
            # tshark 4.0 sizes a no-timestamp entry's subtree 2 bytes too long, so the last
            # entry throws before its call number is shown (see test below).
            out["iax2.trunk.call.scallno"] = ",".join(calls[:-1]) if len(calls) > 1 else ""
    return out


def _assert_matches(number: int, frame: Frame, row: Row) -> None:
    for name, value in _expected(frame).items():
        assert row[name] == value, f"frame {number}: {name} is {row[name]!r}, we say {value!r}"
    if isinstance(frame, MiniFrame):
        # tshark reconstructs the full timestamp; the wire carries its low 16 bits.
        assert int(row["iax2.timestamp"]) & 0xFFFF == frame.timestamp


_HEADER = re.compile(
    r"^(?:Rx|RD)-Frame Retry\[(?P<retry>Yes| No)\] -- OSeqno: (?P<oseq>\d{3}) "
    r"ISeqno: (?P<iseq>\d{3}) Type: .*\n"
    r"   Timestamp: (?P<ts>\d+)ms  SCall: (?P<scall>\d{5})  DCall: (?P<dcall>\d{5}) ",
    re.MULTILINE,
)


def _assert_rendered_text_matches(item: DecodedDatagram, row: Row) -> None:
    """The printed `pbxedge decode` block carries the same numbers tshark shows."""
    match = _HEADER.search(item.render())
    assert match is not None, item.render()
    assert int(match["oseq"]) == int(row["iax2.oseqno"])
    assert int(match["iseq"]) == int(row["iax2.iseqno"])
    assert int(match["ts"]) == int(row["iax2.timestamp"])
    assert int(match["scall"]) == int(row["iax2.src_call"] or 0)
    assert int(match["dcall"]) == int(row["iax2.dst_call"])
    assert (match["retry"] == "Yes") == (row["iax2.retransmission"] == "1")
    ie_lines = item.render().count("\n   ") - 1  # every IE line, minus the Timestamp line
    ie_ids = row["iax2.ie_id"]
    assert ie_lines == (len(ie_ids.split(",")) if ie_ids else 0)


@cache
def _decoded(name: str) -> tuple[DecodedDatagram, ...]:
    return tuple(decode_capture(read_udp(capture(name)), IAX_PORTS, ["encsecret"]))


@pytest.mark.parametrize("name", CAPTURES)
def test_captures_agree_with_tshark(name: str) -> None:
    rows = _tshark(capture(name), IAX_PORTS)
    decoded = _decoded(name)
    assert decoded
    for item in decoded:
        row = rows[item.capture.number]
        assert row["_ws.malformed"] == ""
        if item.frame is None:
            assert row["iax2.packet_type"] == ""  # nmap's empty probes
            continue
        if item.decrypted:
            # tshark cannot decrypt: only the clear call numbers are comparable.
            assert isinstance(item.frame, FullFrame)
            assert row["iax2.src_call"] == str(item.frame.source_call)
            assert row["iax2.dst_call"] == str(item.frame.dest_call)
            continue
        _assert_matches(item.capture.number, item.frame, row)
        if isinstance(item.frame, FullFrame):
            _assert_rendered_text_matches(item, row)


# -- our own traffic ---------------------------------------------------------------------------
_SAMPLE_STRINGS = {IE.CODEC_PREFS: "DECHO", IE.VARIABLE: "NAME=value", IE.CALLTOKEN: ""}
_U8 = {IE.IAX_UNKNOWN, IE.CALLINGPRES, IE.CALLINGTON, IE.CAUSECODE}
_U16 = {
    IE.VERSION, IE.ADSICPE, IE.AUTHMETHODS, IE.REFRESH, IE.DPSTATUS, IE.CALLNO, IE.MSGCOUNT,
    IE.FIRMWAREVER, IE.CALLINGTNS, IE.SAMPLINGRATE, IE.ENCRYPTION, IE.RR_DELAY,
}  # fmt: skip
_U32 = {
    IE.CAPABILITY, IE.FORMAT, IE.TRANSFERID, IE.FWBLOCKDESC, IE.PROVVER, IE.RR_JITTER,
    IE.RR_LOSS, IE.RR_PKTS, IE.RR_DROPPED, IE.RR_OOO, IE.CALLINGANI2,
}  # fmt: skip
_EMPTY = {IE.AUTOANSWER, IE.MUSICONHOLD}
_RAW = {IE.PROVISIONING, IE.AESPROVISIONING, IE.FWBLOCKDATA, IE.ENCKEY, IE.OSPTOKEN}


def every_ie_kind() -> IEList:
    """One IE of every id 1-57, each with a value of its proper kind."""
    ies = IEList()
    for ie in IE:
        if ie in _U8:
            ies.add_u8(ie, 1)
        elif ie in _U16:
            ies.add_u16(ie, 2)
        elif ie in _U32:
            ies.add_u32(ie, 4)
        elif ie is IE.DATETIME:
            ies.add_datetime(ie, datetime(2026, 11, 27, 5, 23, 22))
        elif ie is IE.APPARENT_ADDR:
            ies.add_addr(ie, "127.0.0.1", 4569)
        elif ie in (IE.FORMAT2, IE.CAPABILITY2):
            ies.add_u64_versioned(ie, 1 << 34)
        elif ie in _EMPTY:
            ies.add_empty(ie)
        elif ie in _RAW:
            ies.add(ie, b"\x01\x02\x03")
        else:
            ies.add_str(ie, _SAMPLE_STRINGS.get(ie, "text"))
    return ies


def generated_frames() -> list[Frame]:
    frames: list[Frame] = [
        iax_frame(100, 200, 1000 + s, s, 1, s, every_ie_kind() if s == IaxSubclass.NEW else None)
        for s in IaxSubclass
    ]
    # Each IE alone, so a length problem would point at one id.
    frames += [
        iax_frame(101, 201, 2000 + ie, ie, 2, IaxSubclass.ACK, IEList([item]))
        for ie, item in zip(IE, every_ie_kind(), strict=True)
    ]
    frames.append(iax_frame(1, 0x2957, 14, 0, 1, IaxSubclass.CALLTOKEN,
                            IEList().add_str(IE.CALLTOKEN, "1795757003?" + "a" * 40)))
    frames.append(iax_frame(5, 6, 7, 8, 9, IaxSubclass.LAGRQ, retransmitted=True))
    frames += [
        FullFrame(300, 400, 3000 + c, c, 0, FrameType.CONTROL, c)
        for c in ControlSubclass
        if c != ControlSubclass.STOP_SOUNDS
    ]
    frames.append(FullFrame(300, 400, 3100, 0, 0, FrameType.CONTROL, ControlSubclass.STOP_SOUNDS))
    frames += [
        FullFrame(300, 400, 3200 + bit, 0, 0, FrameType.VOICE, 1 << bit, b"\x00" * 20)
        for bit in (0, 1, 2, 3, 6, 8, 12, 15, 34)
    ]
    frames += [
        FullFrame(300, 400, 3300, 1, 0, FrameType.VIDEO, 1 << 21, b"v"),
        FullFrame(300, 400, 3301, 2, 0, FrameType.DTMF_BEGIN, ord("5")),
        FullFrame(300, 400, 3302, 3, 0, FrameType.DTMF_END, ord("#")),
        FullFrame(300, 400, 3303, 4, 0, FrameType.TEXT, 0, b"hello\x00"),
        FullFrame(300, 400, 3304, 5, 0, FrameType.HTML, 0, b"http://x"),
        FullFrame(300, 400, 3305, 6, 0, FrameType.IMAGE, 0, b"img"),
        FullFrame(300, 400, 3306, 7, 0, FrameType.CNG, 40),
        FullFrame(300, 400, 3307, 8, 0, FrameType.MODEM, 0, b"t38"),
        FullFrame(300, 400, 3308, 9, 0, FrameType.NULL, 0),
        MiniFrame(300, 0x1234, b"\xff" * 160),
        MetaVideoFrame(300, 0x123, True, b"video"),
        MetaTrunkFrame(
            5000, (TrunkEntry(300, b"\x01" * 160, 77), TrunkEntry(301, b"\x02" * 160, 78)), True
        ),
    ]
    return frames


def test_generated_traffic_is_well_formed_for_tshark(tmp_path: Path) -> None:
    frames = generated_frames()
    here, there = ("127.0.0.1", 4570), ("127.0.0.1", 4569)
    path = write_pcap(tmp_path / "generated.pcap", [(here, there, f.encode()) for f in frames])
    rows = _tshark(path)
    assert len(rows) == len(frames)
    for number, frame in enumerate(frames, start=1):
        row = rows[number]
        assert row["_ws.malformed"] == "", f"frame {number} {frame!r}"
        _assert_matches(number, frame, row)
    # Our own decoder reads the same file back to the same frames.
    decoded = [d.frame for d in decode_capture(read_udp(path), [4569])]
    assert decoded == frames


def test_trunk_without_timestamps_layout_matches_tshark(tmp_path: Path) -> None:
    """tshark 4.0 marks the last no-timestamp trunk entry malformed (its subtree length is
    computed with the 6-byte header of the other layout); the fields before it agree."""
    frame = MetaTrunkFrame(
        5000, (TrunkEntry(300, b"\x01" * 10), TrunkEntry(301, b"\x02" * 10)), False
    )
    path = write_pcap(
        tmp_path / "trunk.pcap", [(("127.0.0.1", 4570), ("127.0.0.1", 4569), frame.encode())]
    )
    row = _tshark(path)[1]
    _assert_matches(1, frame, row)
