"""Sound lookup as Asterisk's file.c does it (media.md §4.1)."""

from pathlib import Path

import pytest

from pbxedge.media.fileformats import FileFormat
from pbxedge.media.formats import Format
from pbxedge.media.sounds import find_sound, languages_to_try, sound_exists, sound_files


def touch(base: Path, *names: str) -> None:
    for name in names:
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


@pytest.mark.parametrize(
    ("language", "order"),
    [
        ("en_GB", ["en_GB", "en", ""]),
        ("fr", ["fr", "", "en"]),
        ("de_CH_x", ["de_CH_x", "de_CH", "de", "", "en"]),
        ("", ["", "en"]),
        ("en", ["en", ""]),
    ],
)
def test_language_order(language: str, order: list[str]) -> None:
    assert languages_to_try(language) == order


def test_language_fallbacks(tmp_path: Path) -> None:
    touch(tmp_path, "en/hello.gsm", "hello.ulaw", "fr/bonjour.gsm", "en_GB/colour.gsm")
    dirs = [tmp_path]
    # the first place with any format wins, even if a later one has more
    assert sound_files("hello", "en_GB", dirs) == {FileFormat.GSM: tmp_path / "en/hello.gsm"}
    assert sound_files("hello", "fr", dirs) == {FileFormat.PCM: tmp_path / "hello.ulaw"}
    assert sound_files("bonjour", "fr_CA", dirs) == {FileFormat.GSM: tmp_path / "fr/bonjour.gsm"}
    assert sound_files("colour", "en", dirs) == {}
    assert sound_exists("colour", "en_GB", dirs)
    assert not sound_exists("nosuchfile", "en", dirs)


def test_folders_in_order_so_an_admins_prompts_override(tmp_path: Path) -> None:
    admin, package = tmp_path / "admin", tmp_path / "package"
    touch(admin, "hello.wav")
    touch(package, "en/hello.ulaw", "en/digits/1.gsm")
    found = find_sound("hello", "en", [admin, package], Format.ULAW)
    assert found is not None and found.path == admin / "hello.wav"
    digit = find_sound("digits/1", "en", [admin, package], Format.ULAW)
    assert digit is not None and digit.path == package / "en/digits/1.gsm"


@pytest.mark.parametrize(
    ("channel", "chosen"),
    [
        (Format.ULAW, "hello.ulaw"),  # untranscoded
        (Format.GSM, "hello.gsm"),
        (Format.ALAW, "hello.wav"),  # slin -> alaw (600000) beats ulaw -> alaw (915000)
        (Format.G722, "hello.wav"),
        (Format.SLIN16, "hello.wav"),
        ((Format.ALAW, Format.GSM), "hello.gsm"),
    ],
)
def test_cheapest_format_for_the_channel(
    tmp_path: Path, channel: Format | tuple[Format, ...], chosen: str
) -> None:
    touch(tmp_path, "en/hello.wav", "en/hello.ulaw", "en/hello.gsm")
    found = find_sound("hello", "en", [tmp_path], channel)
    assert found is not None
    assert found.path == tmp_path / "en" / chosen
    assert found.format == FileFormat.of_path(chosen).media


def test_format_extensions_case_and_first_extension(tmp_path: Path) -> None:
    touch(tmp_path, "msg.WAV", "tone.pcm", "tone.ulaw")
    msg = find_sound("msg", "en", [tmp_path], Format.GSM)
    assert msg is not None and msg.file_format is FileFormat.WAV49
    tone = find_sound("tone", "en", [tmp_path], Format.ULAW)
    assert tone is not None and tone.path.name == "tone.pcm"


def test_absolute_names_are_used_as_is(tmp_path: Path) -> None:
    touch(tmp_path, "rec/msg.sln16", "en/rec/msg.gsm")
    found = find_sound(str(tmp_path / "rec/msg"), "en", [tmp_path / "elsewhere"], Format.SLIN16)
    assert found is not None and found.path == tmp_path / "rec/msg.sln16"
    assert find_sound(str(tmp_path / "missing"), "en", [tmp_path], Format.ULAW) is None
