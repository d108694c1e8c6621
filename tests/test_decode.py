import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pbxedge import pcap
from pbxedge.decode import decode_capture, main
from pbxedge.iax2.crypto import AesTransform, aes_key
from pbxedge.iax2.enums import IE, FrameType, IaxSubclass
from pbxedge.iax2.frames import (
    FullFrame,
    MetaTrunkFrame,
    MetaVideoFrame,
    MiniFrame,
    TrunkEntry,
    iax_frame,
)
from pbxedge.iax2.ies import IEList
from tests.iax2.pcaputil import LINKTYPE_ETHERNET, udp_packet, write_pcap
from tests.vectors import IAX_PORTS, capture

CALLS = "asterisk-b-to-a-calls.pcapng"
PORT_ARGS = [arg for port in IAX_PORTS for arg in ("--port", str(port))]
PEER = ("127.0.0.1", 4569)
CLIENT = ("127.0.0.1", 40000)

FRAME_211_TEXT = (
    "-- frame 211  127.0.0.1:4571 -> 127.0.0.1:4570\n"
    "RD-Frame Retry[ No] -- OSeqno: 001 ISeqno: 001 Type: IAX     Subclass: AUTHREP\n"
    "   Timestamp: 00019ms  SCall: 08401  DCall: 07184 127.0.0.1:4571\n"
    "   MD5 RESULT      : 6463a1967fb4507b9e23da204a5b619f\n"
    "\n"
)


def test_decrypts_the_asterisk_encrypted_call(capsys: pytest.CaptureFixture[str]) -> None:
    path = capture(CALLS)
    assert main([*PORT_ARGS, "--secret", "md5secret", "--secret", "encsecret", str(path)]) == 0
    out = capsys.readouterr().out
    assert FRAME_211_TEXT in out
    assert "Type: CONTROL Subclass: (255?)" in out
    assert out.count("RD-Frame") == 9
    assert "Malformed" not in out
    assert out.count("-- frame ") == 1135
    assert out.count("Rx-Mini ") == 919


def test_encrypted_frames_without_the_secret_are_reported(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([*PORT_ARGS, str(capture(CALLS))]) == 0
    out = capsys.readouterr().out
    assert out.count("Malformed frame: encrypted frame and no --secret given") == 9
    assert main([*PORT_ARGS, "--secret", "nope", str(capture(CALLS))]) == 0
    out = capsys.readouterr().out
    assert out.count("Malformed frame: cannot decrypt with any secret") == 9


def test_default_port_is_4569(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(capture(CALLS))]) == 0
    assert capsys.readouterr().out == ""


def _encrypted_call() -> list[tuple[tuple[str, int], tuple[str, int], bytes]]:
    """An AES call with voice and a key rotation, as Asterisk would send it."""
    challenge, secret = "123456789", "sesame"
    key = AesTransform(aes_key(challenge, secret))
    authreq = iax_frame(
        9, 7, 5, 0, 1, IaxSubclass.AUTHREQ,
        IEList().add_u16(IE.AUTHMETHODS, 2).add_str(IE.CHALLENGE, challenge)
        .add_u16(IE.ENCRYPTION, 1).add_str(IE.USERNAME, "u"),
    )  # fmt: skip
    authrep = iax_frame(7, 9, 8, 1, 1, IaxSubclass.AUTHREP, IEList().add_str(IE.MD5_RESULT, "x"))
    voice = FullFrame(7, 9, 20, 2, 1, FrameType.VOICE, 4, b"\xff" * 160)
    new_key = bytes(range(16))
    rtkey = iax_frame(7, 9, 40, 3, 1, IaxSubclass.RTKEY, IEList().add(IE.CHALLENGE, new_key))
    rotated = AesTransform(new_key)
    return [
        (PEER, CLIENT, authreq.encode()),
        (CLIENT, PEER, key.encrypt_full(authrep.encode())),
        # Asterisk retransmits the AUTHREQ in clear if the AUTHREP is late.
        (PEER, CLIENT, authreq._replace(retransmitted=True).encode()),
        (CLIENT, PEER, key.encrypt_full(voice.encode())),
        (CLIENT, PEER, key.encrypt_mini(MiniFrame(7, 40, b"\x11" * 160).encode())),
        (CLIENT, PEER, key.encrypt_full(rtkey.encode())),
        (CLIENT, PEER, rotated.encrypt_mini(MiniFrame(7, 60, b"\x22" * 160).encode())),
        # The other direction keeps the original key.
        (PEER, CLIENT, key.encrypt_full(iax_frame(9, 7, 61, 1, 4, IaxSubclass.ACK).encode())),
    ]


def test_follows_encrypted_minis_and_key_rotation(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "enc.pcap", _encrypted_call(), LINKTYPE_ETHERNET)
    decoded = list(decode_capture(pcap.read_udp(path), [4569], ["wrong", "sesame"]))
    assert [d.error for d in decoded] == [None] * 8
    assert [d.decrypted for d in decoded] == [False, True, False] + [True] * 5
    again = decoded[2].frame
    assert isinstance(again, FullFrame) and again.retransmitted
    assert again.iax_subclass is IaxSubclass.AUTHREQ
    assert decoded[4].frame == MiniFrame(7, 40, b"\x11" * 160)
    assert decoded[6].frame == MiniFrame(7, 60, b"\x22" * 160)
    last = decoded[7].frame
    assert isinstance(last, FullFrame) and last.iax_subclass is IaxSubclass.ACK


def test_media_frames_and_damage_are_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = [
        MiniFrame(300, 0x1234, b"\xff" * 160).encode(),
        MetaVideoFrame(300, 0x123, True, b"video").encode(),
        MetaTrunkFrame(5000, (TrunkEntry(300, b"\x01" * 4, 77), TrunkEntry(301, b"", 0)), True).encode(),
        b"\x80\x01\x00",
        iax_frame(1, 2, 3, 0, 0, IaxSubclass.NEW).encode() + b"\x06\x09abc",
    ]
    datagrams = [(CLIENT, PEER, f) for f in frames] + [(CLIENT, ("127.0.0.1", 5060), b"SIP")]
    path = write_pcap(tmp_path / "media.pcap", datagrams)
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "Rx-Mini   Timestamp: 04660ms  SCall: 00300  Length: 160 127.0.0.1:40000\n" in out
    assert "Rx-Video  Timestamp: 00291ms  SCall: 00300  Mark: Yes  Length: 5 127.0.0.1:40000\n" in out
    assert "Rx-Trunk  Timestamp: 05000ms  Entries: 2 127.0.0.1:40000\n" in out
    assert "   Call: 00300  Timestamp: 00077ms  Length: 4\n" in out
    assert "   Call: 00301  Timestamp: 00000ms  Length: 0\n" in out
    assert "Malformed frame: datagram of 3 bytes is shorter than any IAX2 header\n" in out
    # The IE dump reports the overrun exactly as Asterisk does.
    assert "Total IE length of 11 bytes exceeds remaining frame length of 5 bytes\n" in out
    assert "SIP" not in out and out.count("-- frame ") == 5


def test_unreadable_inputs_fail_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "missing.pcap")]) == 1
    assert "missing.pcap" in capsys.readouterr().err
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture at all")
    assert main([str(junk)]) == 1
    assert "not a pcap or pcapng capture" in capsys.readouterr().err
    good = write_pcap(tmp_path / "good.pcap", [(CLIENT, PEER, iax_frame(1, 2, 3, 0, 0, IaxSubclass.PING).encode())] * 3)
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(good.read_bytes()[:-10])
    assert main([str(cut)]) == 1
    captured = capsys.readouterr()
    assert captured.out.count("Subclass: PING") == 2
    assert "damaged after frame 2" in captured.err


# -- capture reading ---------------------------------------------------------------------------
def _pcap(linktype: int, packets: list[bytes]) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)]
    for packet in packets:
        out.append(struct.pack("<IIII", 1, 0, len(packet), len(packet)) + packet)
    return b"".join(out)


def _ipv6_udp(payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", 4569, 4570, 8 + len(payload), 0) + payload
    src = bytes(15) + b"\x01"
    return struct.pack("!IHBB", 6 << 28, len(udp), 17, 64) + src + src + udp


def test_reader_handles_link_layers_ipv6_and_skips_the_rest(tmp_path: Path) -> None:
    payload = b"\x80\x01\x00\x00" + bytes(8)
    v4 = udp_packet(CLIENT, PEER, payload)
    vlan = bytes(12) + b"\x81\x00\x00\x05\x08\x00" + v4
    sll = bytes(14) + b"\x08\x00" + v4
    null = b"\x02\x00\x00\x00" + v4
    fragment = v4[:6] + b"\x20\x00" + v4[8:]  # more-fragments set
    tcp = v4[:9] + b"\x06" + v4[10:]
    cases = {
        1: [vlan, b"\x00" * 5],
        113: [sll],
        0: [null],
        101: [_ipv6_udp(payload), fragment, tcp, v4[:30], b""],
        147: [v4],  # a user link type: skipped
    }
    found = {}
    for linktype, packets in cases.items():
        path = tmp_path / f"{linktype}.pcap"
        path.write_bytes(_pcap(linktype, packets))
        found[linktype] = list(pcap.read_udp(path))
    assert [d.payload for d in found[1]] == [payload]
    assert [d.src for d in found[113]] == [CLIENT]
    assert [d.dst for d in found[0]] == [PEER]
    assert [(d.number, d.src, d.dst) for d in found[101]] == [(1, ("::1", 4569), ("::1", 4570))]
    assert found[147] == []


def test_cut_pcapng_is_reported_after_the_good_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = capture("nmap-iax2-version.pcapng").read_bytes()
    whole = list(pcap.read_udp(capture("nmap-iax2-version.pcapng")))
    assert len(whole) == 8 and whole[0].time == pytest.approx(1795756891.363, abs=0.01)
    # The file ends with an 88-byte packet block and a 108-byte statistics block.
    last_packet_end = len(data) - 108
    for end, frames in ((len(data) - 1, 8), (last_packet_end - 1, 7), (last_packet_end - 80, 7)):
        path = tmp_path / f"cut{end}.pcapng"
        path.write_bytes(data[:end])
        assert main(["--port", "4570", str(path)]) == 1
        captured = capsys.readouterr()
        assert "pbxedge decode:" in captured.err and "Traceback" not in captured.err
        assert captured.out.count("-- frame ") == frames


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_damaged_captures_only_raise_capture_error(tmp_path: Path, data: st.DataObject) -> None:
    original = bytearray(capture("nmap-iax2-version.pcapng").read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(original) - 1))
        original[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(original)))
    path = tmp_path / "damaged.pcapng"
    path.write_bytes(bytes(original[:cut]))
    try:
        for item in decode_capture(pcap.read_udp(path), [4570]):
            item.render()
    except pcap.CaptureError:
        pass
