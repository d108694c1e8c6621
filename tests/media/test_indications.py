"""indications.conf zones, the built-in ones, and their tones played through the generator."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbxedge.config.diagnostics import ConfigError, Severity
from pbxedge.media.dsp import ToneDetector, frame_energy
from pbxedge.media.indications import Indications
from pbxedge.media.tones import ToneGenerator, parse_tone_list
from tests.media.tonecheck import run_lengths_ms

# The table of the reference (media.md §3.3), taken from Asterisk's sample file.
US_CN = {
    "dial": ("350+440", "450"),
    "busy": ("480+620/500,0/500", "450/350,0/350"),
    "ring": ("440+480/2000,0/4000", "450/1000,0/4000"),
    "congestion": ("480+620/250,0/250", "450/700,0/700"),
    "callwaiting": ("440/300,0/10000", "450/400,0/4000"),
    "dialrecall": ("!350+440/100,!0/100," * 3 + "350+440", "450"),
    "record": ("1400/500,0/15000", "950/400,0/10000"),
    "info": (
        "!950/330,!1400/330,!1800/330,0",
        "450/100,0/100,450/100,0/100,450/100,0/100,450/400,0/400",
    ),
    "stutter": ("!350+440/100,!0/100," * 6 + "350+440", "450+425"),
}


def test_builtin_zones_match_the_sample_file() -> None:
    ind = Indications.load(None)
    assert ind.diagnostics == []
    assert ind.default_country == "us"
    assert set(ind.countries()) >= {"us", "uk", "de", "cn"}
    us, cn = ind.zone("us"), ind.zone("cn")
    assert us is not None and cn is not None
    assert (us.ringcadence, cn.ringcadence) == ((2000, 4000), (1000, 4000))
    for name, (us_tone, cn_tone) in US_CN.items():
        assert (us.tone(name), cn.tone(name)) == (us_tone, cn_tone), name
    uk, de = ind.zone("uk"), ind.zone("de")
    assert uk is not None and de is not None
    assert uk.ringcadence == (400, 200, 400, 2000)
    assert (uk.tone("busy"), uk.tone("dial"), uk.tone("unobtainable")) == ("400/375,0/375", "350+440", "400")
    assert (de.tone("busy"), de.tone("dial"), de.tone("congestion")) == ("425/480,0/480", "425", "425/240,0/240")
    callwaiting = de.tone("callwaiting") or ""
    assert callwaiting.startswith("!425/200,!0/200,!425/200,!0/5000,")
    assert callwaiting.endswith(",!425/200,0") and callwaiting.count("!0/5000") == 4
    assert de.description == "Germany" and us.description == "United States / North America"
    for zone in (us, uk, de, cn):
        for tone in zone.tones.values():
            assert parse_tone_list(tone).rejected == ()


def test_default_zone_lookup_is_case_insensitive() -> None:
    ind = Indications.builtin()
    default = ind.zone()
    assert default is not None and default.country == "us"
    assert ind.zone("") is default
    assert ind.zone("CN") is ind.zone("cn")
    assert ind.zone("zz") is None
    us = ind.zone("us")
    assert us is not None and us.tone("BUSY") == us.tone("busy") and us.tone("nosuch") is None


def test_us_busy_and_cn_busy_cadences_through_the_generator() -> None:
    """us busy is 500/500 ms of 480+620; cn busy (350/350) comes out 360/360."""
    ind = Indications.builtin()

    def runs(country: str) -> list[tuple[bool, int]]:
        zone = ind.zone(country)
        assert zone is not None
        return run_lengths_ms(ToneGenerator(zone.tone("busy") or ""), 100)

    assert runs("us") == [(True, 500), (False, 500)] * 2
    assert runs("cn")[:4] == [(True, 360), (False, 360)] * 2
    us = ind.zone("us")
    assert us is not None
    frame = ToneGenerator(us.tone("busy") or "").read(800)
    assert frame is not None
    assert ToneDetector(480).share(frame) == pytest.approx(0.5, abs=0.05)
    assert ToneDetector(620).share(frame) == pytest.approx(0.5, abs=0.05)


def test_file_with_general_country_zones_and_redefinitions(tmp_path: Path) -> None:
    path = tmp_path / "indications.conf"
    path.write_text(
        "; a small office\n"
        "[general]\n"
        "country = NL\n"
        "\n"
        "[nl]\n"
        "description = Netherlands\n"
        "ringcadence = 1000, 4000\n"
        "dial = 425\n"
        "Busy = 425/500,0/500\n"
        "beep = 1000/100\n"
        "busy = 425/250,0/250   ; faster\n"
        "\n"
        "[fr]\n"
        "dial = 440\n"
        "[nl]\n"
        "congestion = 425/250,0/250\n"
        "ringcadence = 500\n"
    )
    ind = Indications.load(path)
    assert ind.diagnostics == []
    assert ind.default_country == "nl"
    nl = ind.zone()
    assert nl is not None and nl.country == "nl" and nl.description == "Netherlands"
    assert nl.ringcadence == (1000, 4000, 500)  # the second line adds, as Asterisk's does
    # The later busy replaces the earlier one and moves to the end; the second [nl] adds.
    assert nl.tones == {
        "dial": "425", "beep": "1000/100", "busy": "425/250,0/250", "congestion": "425/250,0/250",
    }
    fr = ind.zone("fr")
    assert fr is not None and fr.tone("dial") == "440" and fr.ringcadence == ()
    assert ind.zone("us") is None  # a file replaces the built-in zones


def test_problems_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "indications.conf"
    path.write_text(
        "[general]\n"
        "country = xx\n"
        "[de]\n"
        "ringcadence = 1000,long,4000\n"
        "busy = 425/480,bogus,0/480\n"
        "broken = nothing here\n"
        "empty =\n"
    )
    ind = Indications.load(path)
    found = [(d.severity, d.origin.line if d.origin else None, d.message) for d in ind.diagnostics]
    assert [(sev, line) for sev, line, _ in found] == [
        (Severity.WARNING, 4), (Severity.WARNING, 5), (Severity.WARNING, 6),
        (Severity.WARNING, 7), (Severity.WARNING, 2),
    ]
    assert "'long'" in found[0][2] and "'bogus'" in found[1][2] and "no valid tone parts" in found[2][2]
    assert "country 'xx' has no zone" in found[4][2]
    assert str(ind.diagnostics[0]).startswith(f"{path}:4: warning:")
    # The first zone becomes the default, as Asterisk picks it.
    assert ind.default_country == "de"
    de = ind.zone()
    assert de is not None and de.ringcadence == (1000, 4000)
    assert de.tone("busy") == "425/480,bogus,0/480"  # kept: the good parts still play
    assert de.tone("empty") is None


def test_no_country_and_no_zones() -> None:
    ind = Indications.parse_text("[de]\ndial=425\n[at]\ndial=420\n", "ind.conf")
    assert ind.default_country == "de"
    assert [str(d) for d in ind.diagnostics] == [
        "warning: ind.conf: no [general] country; the default tone zone is 'de'"
    ]
    empty = Indications.parse_text("[general]\ncountry=us\n")
    assert empty.zone() is None and empty.zone("us") is None and empty.countries() == []
    assert empty.diagnostics == []


def test_unreadable_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        Indications.load(tmp_path / "missing.conf")


def test_dial_tone_of_every_builtin_zone_is_steady() -> None:
    ind = Indications.builtin()
    for country in ind.countries():
        zone = ind.zone(country)
        assert zone is not None
        gen = ToneGenerator(zone.tone("dial") or "")
        for _ in range(50):
            frame = gen.read()
            assert frame is not None and frame_energy(frame) > 1000, country
