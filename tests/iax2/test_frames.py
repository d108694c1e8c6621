import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pbxedge.iax2.enums import IE, ControlSubclass, FrameType, IaxSubclass
from pbxedge.iax2.errors import MalformedFrame
from pbxedge.iax2.frames import (
    FullFrame,
    MetaTrunkFrame,
    MetaVideoFrame,
    MiniFrame,
    TrunkEntry,
    compress_subclass,
    iax_frame,
    parse_datagram,
    uncompress_subclass,
)
from pbxedge.iax2.ies import IEList
from tests.logcheck import nothing_on_stderr

# README §5.5 and iax2.md §13.
GOLDEN = {
    "regreq_empty_token": "a95700000000000e0000060d0609706c61696e706565721302003c3600",
    "stateless_pong": "800129600000001100010603",
    "regack_encpeer": (
        "b4022188000000110102060f0607656e63706565721f04357b2aeb1302003c1210020011db7f000001"
        "00000000000000000204313030340408456e632050656572"
    ),
    "stateless_regrej": "800105870000000300010610",
    "libiax2_regreq": "85870000000000030000060d06086961786d6f64656d1302003c",
    "libiax2_pong": (
        "85882ad90000000e000106032e04000000002f040000000030040000000131020028320400000000"
        "330400000000"
    ),
    "nmap_poke": "80000000000000000000061e",
    "nmap_pong": "800100000000000000010603",
    "new_md5peer": (
        "ae88000000000002000006010b02000201033630302d0448444543260143270100280200003904000000"
        "000a02656e06076d643570656572090400000040380900000000000000004008040000004e3709000000"
        "00000000004e0c0200021f04357b2b0c3600"
    ),
    "selfcomputed_new": "92340000000000000000060" "10b020002010331303036" "00",
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_datagrams_roundtrip(name: str) -> None:
    data = bytes.fromhex(GOLDEN[name])
    frame = parse_datagram(data)
    assert isinstance(frame, FullFrame)
    assert frame.encode() == data


def test_golden_fields_decode() -> None:
    regreq = parse_datagram(bytes.fromhex(GOLDEN["regreq_empty_token"]))
    assert regreq == FullFrame(
        source_call=10583,
        dest_call=0,
        timestamp=14,
        oseqno=0,
        iseqno=0,
        frametype=FrameType.IAX,
        subclass=IaxSubclass.REGREQ,
        payload=bytes.fromhex("0609706c61696e706565721302003c3600"),
    )
    assert regreq.iax_subclass is IaxSubclass.REGREQ
    assert regreq.ies().get_str(IE.USERNAME) == "plainpeer"
    pong = parse_datagram(bytes.fromhex(GOLDEN["nmap_pong"]))
    assert isinstance(pong, FullFrame)
    assert (pong.source_call, pong.dest_call, pong.oseqno, pong.iseqno) == (1, 0, 0, 1)
    assert pong.iax_subclass is IaxSubclass.PONG and not pong.retransmitted


def test_iax_frame_builds_golden_new() -> None:
    ies = IEList().add_u16(IE.VERSION, 2).add_str(IE.CALLED_NUMBER, "100").add_empty(IE.CALLTOKEN)
    frame = iax_frame(0x1234, 0, 0, 0, 0, IaxSubclass.NEW, ies)
    assert frame.encode() == bytes.fromhex(GOLDEN["selfcomputed_new"])
    assert iax_frame(1, 0x587, 3, 0, 1, IaxSubclass.REGREJ).encode() == bytes.fromhex(
        GOLDEN["stateless_regrej"]
    )


def test_retransmission_flag_is_the_dcall_high_bit() -> None:
    frame = iax_frame(5, 7, 100, 1, 2, IaxSubclass.LAGRQ, retransmitted=True)
    data = frame.encode()
    assert data[2:4] == bytes.fromhex("8007")
    back = parse_datagram(data)
    assert isinstance(back, FullFrame) and back.retransmitted and back.dest_call == 7


@pytest.mark.parametrize(
    ("value", "csub"),
    [
        (4, 0x04),  # ulaw goes out uncompressed, as Asterisk does
        (2, 0x02),
        (0x40, 0x40),
        (0x80, 0x87),  # lpc10
        (0x100, 0x88),  # g729
        (0x400, 0x8A),
        (0x1000, 0x8C),
        (0x8000, 0x8F),
        (1 << 34, 0xA2),  # opus
        (-1, 0xFF),
        (0, 0x00),
    ],
)
def test_subclass_compression(value: int, csub: int) -> None:
    assert compress_subclass(value) == csub
    assert uncompress_subclass(csub) == value


def test_subclass_decoder_accepts_both_encodings_of_small_powers() -> None:
    assert uncompress_subclass(0x82) == 4  # RFC-style ulaw
    assert uncompress_subclass(0x04) == 4


@pytest.mark.parametrize("value", [0x81, 0x300, 1 << 64, -2])
def test_subclass_without_encoding_is_refused(value: int) -> None:
    with pytest.raises(ValueError):
        compress_subclass(value)


def test_voice_and_control_full_frames() -> None:
    voice = FullFrame(9, 3, 560, 4, 2, FrameType.VOICE, 0x100, b"\x01" * 20)
    data = voice.encode()
    assert data[11] == 0x88
    assert parse_datagram(data) == voice
    stop = FullFrame(5569, 2968, 28, 3, 2, FrameType.CONTROL, ControlSubclass.STOP_SOUNDS)
    assert stop.encode()[-1] == 0xFF
    assert parse_datagram(stop.encode()) == stop
    assert stop.iax_subclass is None


def test_mini_frame() -> None:
    data = bytes.fromhex("15c10244") + b"\xff" * 160
    frame = parse_datagram(data)
    assert frame == MiniFrame(0x15C1, 0x0244, b"\xff" * 160)
    assert frame.encode() == data
    assert MiniFrame(1, 0x12345, b"").encode() == bytes.fromhex("00012345")


def test_meta_trunk_supermini_layout() -> None:
    data = bytes.fromhex("00000100" "00000bb8" "1234" "0003" "aabbcc" "0005" "0000")
    frame = parse_datagram(data)
    assert frame == MetaTrunkFrame(
        3000, (TrunkEntry(0x1234, b"\xaa\xbb\xcc"), TrunkEntry(5, b"")), with_timestamps=False
    )
    assert frame.encode() == data


def test_meta_trunk_with_timestamps_layout() -> None:
    # len, callno, ts16 order differs from the supermini callno, len order.
    data = bytes.fromhex("00000101" "00000bb8" "0002" "1234" "0bb8" "aabb")
    frame = parse_datagram(data)
    assert frame == MetaTrunkFrame(
        3000, (TrunkEntry(0x1234, b"\xaa\xbb", 3000),), with_timestamps=True
    )
    assert frame.encode() == data
    with pytest.raises(ValueError):
        MetaTrunkFrame(0, (TrunkEntry(1, b""),), with_timestamps=True).encode()


def test_meta_video() -> None:
    data = bytes.fromhex("0000" "8123" "8010") + b"vid"
    frame = parse_datagram(data)
    assert frame == MetaVideoFrame(0x123, 0x10, True, b"vid")
    assert frame.encode() == data


@pytest.mark.parametrize(
    ("hexdata", "reason"),
    [
        ("", "shorter than any"),
        ("800100", "shorter than any"),
        ("80010000000000", "12-byte header"),
        ("00008001", "shorter than 6"),
        ("00000001", "shorter than 8"),
        ("00000200" "00000000", "unknown meta command"),
        ("00000102" "00000000", "unknown meta trunk flags"),
        ("00000100" "00000000" "0001", "truncated"),
        ("00000100" "00000000" "0001" "0009" "aa", "claims 9 bytes"),
        ("00000101" "00000000" "0002" "0001", "truncated"),
    ],
)
def test_malformed_datagrams(hexdata: str, reason: str) -> None:
    with pytest.raises(MalformedFrame, match=reason):
        parse_datagram(bytes.fromhex(hexdata))


def test_encode_refuses_out_of_range_fields() -> None:
    with pytest.raises(ValueError):
        FullFrame(0x8000, 0, 0, 0, 0, 6, 1).encode()
    with pytest.raises(ValueError):
        FullFrame(1, 0, 0, 256, 0, 6, 1).encode()
    with pytest.raises(ValueError):
        MiniFrame(0, 0, b"").encode()
    with pytest.raises(ValueError):
        MetaTrunkFrame(0, (TrunkEntry(0x10000, b""),), with_timestamps=False).encode()


def test_bytearray_and_memoryview_inputs() -> None:
    data = bytes.fromhex(GOLDEN["regack_encpeer"])
    assert parse_datagram(bytearray(data)) == parse_datagram(data)
    frame = parse_datagram(memoryview(data))
    assert isinstance(frame, FullFrame) and isinstance(frame.payload, bytes)


# -- property tests --------------------------------------------------------------------------
call_numbers = st.integers(0, 0x7FFF)
subclasses = st.one_of(
    st.integers(0, 0x7F), st.just(-1), st.integers(7, 63).map(lambda b: 1 << b)
)
full_frames = st.builds(
    FullFrame,
    source_call=call_numbers,
    dest_call=call_numbers,
    timestamp=st.integers(0, 0xFFFFFFFF),
    oseqno=st.integers(0, 255),
    iseqno=st.integers(0, 255),
    frametype=st.integers(0, 255),
    subclass=subclasses,
    payload=st.binary(max_size=64),
    retransmitted=st.booleans(),
)
mini_frames = st.builds(
    MiniFrame, st.integers(1, 0x7FFF), st.integers(0, 0xFFFF), st.binary(max_size=64)
)
video_frames = st.builds(
    MetaVideoFrame, call_numbers, st.integers(0, 0x7FFF), st.booleans(), st.binary(max_size=32)
)


@st.composite
def trunk_frames(draw: st.DrawFn) -> MetaTrunkFrame:
    with_ts = draw(st.booleans())
    entries = draw(
        st.lists(
            st.builds(
                TrunkEntry,
                st.integers(0, 0xFFFF),
                st.binary(max_size=32),
                st.integers(0, 0xFFFF) if with_ts else st.none(),
            ),
            max_size=5,
        )
    )
    return MetaTrunkFrame(draw(st.integers(0, 0xFFFFFFFF)), tuple(entries), with_ts)


@st.composite
def uniform_trunk_frames(draw: st.DrawFn) -> MetaTrunkFrame:
    """Every entry of one length, as one codec on every call sends them: the receive path
    reads these with one unpack, up to a count past which it walks them one by one."""
    with_ts = draw(st.booleans())
    length = draw(st.integers(0, 12))
    count = draw(st.sampled_from([1, 2, 7, 511, 512, 513, 600]))
    calls = draw(st.lists(st.integers(0, 0xFFFF), min_size=count, max_size=count))
    entries = tuple(TrunkEntry(call, bytes([i & 0xFF]) * length, i if with_ts else None)
                    for i, call in enumerate(calls))
    return MetaTrunkFrame(draw(st.integers(0, 0xFFFFFFFF)), entries, with_ts)


@given(uniform_trunk_frames(), st.integers(1, 7))
def test_uniform_trunk_frames_read_whole_or_refused_when_cut(frame: MetaTrunkFrame,
                                                             cut: int) -> None:
    data = frame.encode()
    assert parse_datagram(data) == frame
    entry_size = (6 if frame.with_timestamps else 4) + len(frame.entries[0].payload)
    if cut % entry_size:  # the cut leaves a partial entry
        with pytest.raises(MalformedFrame):
            parse_datagram(data[:-cut])
    else:
        assert parse_datagram(data[:-cut]).entries == frame.entries[:-cut // entry_size]  # type: ignore[union-attr]
    with pytest.raises(MalformedFrame):
        parse_datagram(data + b"\x01")  # a partial entry header after the last entry


@given(st.one_of(full_frames, mini_frames, video_frames, trunk_frames()))
def test_decode_encode_identity(frame: FullFrame | MiniFrame | MetaVideoFrame | MetaTrunkFrame) -> None:
    assert parse_datagram(frame.encode()) == frame


def _check_never_raises_other(data: bytes) -> None:
    with nothing_on_stderr():
        try:
            frame = parse_datagram(data)
        except MalformedFrame:
            return
        if isinstance(frame, FullFrame):
            with contextlib.suppress(MalformedFrame):
                frame.ies()


def _mutations() -> st.SearchStrategy[bytes]:
    seeds = [bytes.fromhex(h) for h in GOLDEN.values()]

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(seeds)))
        for _ in range(draw(st.integers(1, 4))):
            choice = draw(st.integers(0, 2))
            pos = draw(st.integers(0, max(len(data) - 1, 0)))
            if choice == 0 and data:
                data[pos] = draw(st.integers(0, 255))
            elif choice == 1:
                del data[pos:]
            else:
                data[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        return bytes(data)

    return mutate()


@given(st.one_of(st.binary(max_size=80), _mutations()))
def test_parse_only_raises_malformed_fast(data: bytes) -> None:
    _check_never_raises_other(data)


@pytest.mark.slow
@settings(max_examples=100_000, deadline=None)
@given(st.one_of(st.binary(max_size=80), _mutations()))
def test_parse_only_raises_malformed_long_run(data: bytes) -> None:
    _check_never_raises_other(data)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_datagrams_fed_byte_by_byte(name: str) -> None:
    data = bytes.fromhex(GOLDEN[name])
    whole = parse_datagram(data)
    assert isinstance(whole, FullFrame)
    for cut in range(len(data)):
        prefix = data[:cut]
        if cut < 12:
            with pytest.raises(MalformedFrame):
                parse_datagram(prefix)
            continue
        frame = parse_datagram(prefix)
        assert isinstance(frame, FullFrame)
        assert frame.payload == data[12:cut]
        assert frame.encode() == prefix


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_datagrams_with_trailing_junk(name: str) -> None:
    data = bytes.fromhex(GOLDEN[name])
    frame = parse_datagram(data + b"\xee")
    assert isinstance(frame, FullFrame) and frame.payload.endswith(b"\xee")
    # One stray byte cannot be an IE, so the IE block is rejected, not misread.
    with pytest.raises(MalformedFrame):
        frame.ies()


@given(st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=40)), max_size=8), st.data())
def test_ie_block_prefixes_parse_only_at_boundaries(
    items: list[tuple[int, bytes]], data: st.DataObject
) -> None:
    block = IEList(items).encode()
    boundaries = {0}
    pos = 0
    for _, value in items:
        pos += 2 + len(value)
        boundaries.add(pos)
    cut = data.draw(st.integers(0, len(block)))
    if cut in boundaries:
        assert IEList.parse(block[:cut]).encode() == block[:cut]
    else:
        with pytest.raises(MalformedFrame):
            IEList.parse(block[:cut])
