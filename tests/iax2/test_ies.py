from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbxedge.iax2.enums import IE
from pbxedge.iax2.errors import MalformedFrame
from pbxedge.iax2.ies import IEList, decode_sockaddr

# REGACK IEs for encpeer (README §5.5, b-to-a frame 24).
REGACK_IES = bytes.fromhex(
    "0607656e63706565721f04357b2aeb1302003c1210020011db7f000001000000000000000002043130"
    "30340408456e632050656572"
)


def test_builders_produce_golden_bytes() -> None:
    ies = (
        IEList()
        .add_u16(IE.VERSION, 2)
        .add_str(IE.CALLED_NUMBER, "100")
        .add_empty(IE.CALLTOKEN)
    )
    assert ies.encode() == bytes.fromhex("0b020002010331303036" "00")
    assert IEList().add_u8(IE.CAUSECODE, 16).encode() == bytes.fromhex("2a0110")
    assert IEList().add_u32(IE.FORMAT, 4).encode() == bytes.fromhex("090400000004")
    assert IEList().add_u64_versioned(IE.FORMAT2, 0x40).encode() == bytes.fromhex(
        "38090000000000000000" "40"
    )


def test_regack_parses_and_reencodes() -> None:
    ies = IEList.parse(REGACK_IES)
    assert [ie for ie, _ in ies] == [6, 31, 19, 18, 2, 4]
    assert ies.get_str(IE.USERNAME) == "encpeer"
    assert ies.get_u16(IE.REFRESH) == 60
    assert ies.get_addr(IE.APPARENT_ADDR) == ("127.0.0.1", 4571)
    assert ies.get_datetime(IE.DATETIME) == datetime(2026, 11, 27, 5, 23, 22)
    assert ies.get_str(IE.CALLING_NAME) == "Enc Peer"
    assert ies.encode() == REGACK_IES
    assert len(ies) == 6


def test_add_addr_is_linux_sockaddr_layout() -> None:
    v4 = IEList().add_addr(IE.APPARENT_ADDR, "127.0.0.1", 4571).get(IE.APPARENT_ADDR)
    assert v4 == bytes.fromhex("020011db7f0000010000000000000000")
    v6 = IEList().add_addr(IE.APPARENT_ADDR, "2001:db8::1", 4569).get(IE.APPARENT_ADDR)
    assert v6 is not None and len(v6) == 28 and v6[:4] == bytes.fromhex("0a0011d9")
    assert decode_sockaddr(v6) == ("2001:db8::1", 4569)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("020011db7f0000010000000000000000", ("127.0.0.1", 4571)),  # Linux x86
        ("100211dbc00002070000000000000000", ("192.0.2.7", 4571)),  # BSD sin_len + family
        ("000211dbc00002070000000000000000", ("192.0.2.7", 4571)),  # big-endian Linux
        (
            "1c1e11d900000000" "00000000000000000000ffffc0000207" "00000000",
            ("192.0.2.7", 4569),
        ),  # macOS v4-mapped IPv6
        ("020011db7f000001", None),  # wrong length
        ("050011db7f0000010000000000000000", None),  # unknown family
        ("020011db" + "00" * 24, ("0.0.0.0", 4571)),  # 28-byte image of an IPv4 sockaddr
    ],
)
def test_sockaddr_layouts(raw: str, expected: tuple[str, int] | None) -> None:
    assert decode_sockaddr(bytes.fromhex(raw)) == expected


def test_datetime_golden_and_roundtrip() -> None:
    when = datetime(2026, 8, 6, 15, 45, 48)
    ies = IEList().add_datetime(IE.DATETIME, when)
    assert ies.get(IE.DATETIME) == (0x35067DB8).to_bytes(4, "big")
    assert ies.get_datetime(IE.DATETIME) == when
    # Month 0 is not a date: the accessor reads None rather than raising.
    assert IEList([(IE.DATETIME, (0x35067DB8 & ~(0xF << 21)).to_bytes(4, "big"))]).get_datetime(
        IE.DATETIME
    ) is None
    with pytest.raises(ValueError):
        IEList().add_datetime(IE.DATETIME, datetime(1999, 1, 1))


def test_wrong_length_fixed_ies_read_as_none() -> None:
    ies = IEList(
        [
            (IE.CAUSECODE, b"\x00\x10"),
            (IE.REFRESH, b"\x3c"),
            (IE.FORMAT, b"\x00\x04"),
            (IE.FORMAT2, b"\x00" * 5),
            (IE.CAPABILITY2, b"\x01" + b"\x00" * 8),  # unknown version
        ]
    )
    assert ies.get_u8(IE.CAUSECODE) is None
    assert ies.get_u16(IE.REFRESH) is None
    assert ies.get_u32(IE.FORMAT) is None
    assert ies.get_u64_versioned(IE.FORMAT2) is None
    assert ies.get_u64_versioned(IE.CAPABILITY2) is None
    assert ies.get_addr(IE.APPARENT_ADDR) is None
    assert ies.get_str(IE.USERNAME) is None
    assert ies.get(IE.USERNAME) is None


def test_multimap_accessors_and_without() -> None:
    ies = IEList([(IE.USERNAME, b"a"), (99, b"raw"), (IE.CALLTOKEN, b""), (IE.USERNAME, b"b")])
    assert ies.get(IE.USERNAME) == b"a"
    assert ies.get_all(IE.USERNAME) == [b"a", b"b"]
    assert ies.has(99) and ies.has(IE.CALLTOKEN) and not ies.has(IE.PASSWORD)
    stripped = ies.without(IE.CALLTOKEN)
    assert not stripped.has(IE.CALLTOKEN) and ies.has(IE.CALLTOKEN)
    assert [ie for ie, _ in stripped] == [IE.USERNAME, 99, IE.USERNAME]
    assert stripped.add(IE.CALLTOKEN, b"1?abc").encode().endswith(b"\x36\x051?abc")
    assert ies != stripped and ies == IEList(list(ies))


def test_variables_split_and_concatenate() -> None:
    long_value = "x" * 600
    ies = IEList().add_variable("A", "1").add_variable("LONG", long_value).add_variable("B", "")
    parts = ies.get_all(IE.VARIABLE)
    assert all(len(p) <= 255 for p in parts)
    assert len(parts) == 1 + 3 + 1
    assert ies.get_variables() == {"A": "1", "LONG": long_value, "B": ""}
    # An IE without '=' is a variable with an empty value (parser.c).
    assert IEList([(IE.VARIABLE, b"NOEQ")]).get_variables() == {"NOEQ": ""}


def test_add_rejects_oversize_data_and_ids() -> None:
    with pytest.raises(ValueError):
        IEList().add(IE.CAUSE, b"x" * 256)
    with pytest.raises(ValueError):
        IEList().add(256, b"")
    IEList().add(IE.CAUSE, b"x" * 255)


def test_parse_rejects_overrun_and_truncated_header() -> None:
    with pytest.raises(MalformedFrame, match="claims 5 bytes"):
        IEList.parse(bytes.fromhex("0605616263"))
    with pytest.raises(MalformedFrame, match="truncated"):
        IEList.parse(bytes.fromhex("2a011006"))


def test_parse_byte_prefixes_of_a_real_block() -> None:
    """Each prefix either parses to the IEs wholly inside it or raises MalformedFrame."""
    boundaries = {0}
    pos = 0
    while pos < len(REGACK_IES):
        pos += 2 + REGACK_IES[pos + 1]
        boundaries.add(pos)
    for cut in range(len(REGACK_IES) + 1):
        prefix = REGACK_IES[:cut]
        if cut in boundaries:
            assert IEList.parse(prefix).encode() == prefix
        else:
            with pytest.raises(MalformedFrame):
                IEList.parse(prefix)


def test_trailing_junk_is_rejected_or_kept_raw() -> None:
    # One stray byte cannot be an IE header.
    with pytest.raises(MalformedFrame):
        IEList.parse(REGACK_IES + b"\x01")
    # A well-formed unknown IE is kept raw and survives re-encoding.
    junk = REGACK_IES + bytes.fromhex("f003aabbcc")
    parsed = IEList.parse(junk)
    assert parsed.get(0xF0) == bytes.fromhex("aabbcc")
    assert parsed.encode() == junk


ie_items = st.lists(
    st.tuples(st.integers(0, 255), st.binary(max_size=255)),
    max_size=12,
)


@given(ie_items)
def test_encode_parse_identity(items: list[tuple[int, bytes]]) -> None:
    ies = IEList(items)
    assert IEList.parse(ies.encode()) == ies
    assert list(IEList.parse(ies.encode())) == items


@given(st.binary(max_size=300))
def test_parse_random_bytes_only_raises_malformed(data: bytes) -> None:
    try:
        ies = IEList.parse(data)
    except MalformedFrame:
        return
    assert ies.encode() == data
    for ie, _ in ies:
        # Typed accessors never raise, whatever the bytes.
        ies.get_str(ie), ies.get_u8(ie), ies.get_u16(ie), ies.get_u32(ie)
        ies.get_u64_versioned(ie), ies.get_addr(ie), ies.get_datetime(ie)
    ies.get_variables()
