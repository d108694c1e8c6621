"""``console.conf``: the local phones of a node, in chan_console's format plus pbxedge's keys.

``[general]`` holds defaults for every phone; every other section is a phone whose name is
the section name (``Console/<name>``) and may repeat any general key. A missing file means
no local phones. Unknown keys are warnings (Asterisk: ``Unknown option``); values that
cannot work are errors naming ``file:line``, so ``pbxedge --check`` finds them.

chan_console's keys: ``input_device``, ``output_device``, ``active`` (phone only),
``context``, ``extension``, ``callerid``, ``language``, ``mohinterpret``, ``autoanswer``,
``overridecontext``, ``parkinglot`` and the jitter-buffer keys ``jb…``.

pbxedge's keys: ``immediate`` (the button dials ``extension@context`` at once),
``samplerate`` (0: the device's own), ``frame_ms``, ``rx_gain``/``tx_gain`` (dB, speaker
and microphone), ``ringtone`` (an indications.conf tone name or a tone list),
``button`` (``/dev/input/…:KEY_NAME``), ``early_media`` (send the microphone before the
answer; chan_console always does), and the phone-box keys of :class:`BoxConfig`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pbxedge.config.diagnostics import ConfigError, Diagnostic, Origin, Severity
from pbxedge.config.loader import Category, Variable, load_config, parse_config_text
from pbxedge.config.values import ValueFormError, parse_bool, parse_callerid, parse_int
from pbxedge.media.jitterbuffer import JitterBufferSettings

__all__ = ["MAX_TEST_INTERVAL_HOURS", "BoxConfig", "ConsoleConfig", "PhoneConfig",
           "load_console_config", "parse_console_config"]

MAX_TEST_INTERVAL_HOURS = 72  # EN 81-28: a lift alarm proves itself at least every 3 days
_DTMF = "0123456789*#ABCD"
_BUTTON = re.compile(r"^(?P<path>/\S+):(?P<key>(?:KEY|BTN)_[A-Z0-9_]+)$")


@dataclass(frozen=True)
class BoxConfig:
    """A phone that is an alarm box (lift, hotline): what one press of its button does."""

    alarm_targets: tuple[str, ...] = ()  # dial strings, tried in order, round after round
    alarm_ring_timeout: float = 30.0  # seconds each target rings
    ack_digit: str = "5"
    ack_timeout: float = 30.0  # seconds an answering desk has to acknowledge
    alarm_give_up: float = 3600.0  # seconds from the press until the box stops trying
    location: str = ""  # a prompt file name, or words spoken once by espeak-ng
    box_id: str = ""  # digits: the box in the test report *<box_id>#<0|1>#
    test_target: str = ""  # dial string of the periodic test call ("" = no test)
    test_interval: float = MAX_TEST_INTERVAL_HOURS * 3600.0  # seconds
    test_retry: float = 600.0  # seconds before a failed test is tried again
    connecting_prompt: str = "connecting"  # to the passenger while the box dials
    helping_prompt: str = "help-is-on-the-way"  # to the passenger once acknowledged


@dataclass(frozen=True)
class PhoneConfig:
    name: str
    origin: Origin | None = None
    input_device: str = ""
    output_device: str = ""
    context: str = "default"
    extension: str = "s"
    callerid_name: str | None = None
    callerid_num: str | None = None
    language: str = ""
    mohinterpret: str = "default"
    autoanswer: bool = False
    overridecontext: bool = False
    active: bool = False
    immediate: bool = False
    samplerate: int = 0
    frame_ms: int = 20
    rx_gain: float = 0.0
    tx_gain: float = 0.0
    ringtone: str = "ring"
    button: str = ""
    early_media: bool = False
    jitterbuffer: JitterBufferSettings = field(default_factory=JitterBufferSettings)
    box: BoxConfig | None = None


@dataclass(frozen=True)
class ConsoleConfig:
    phones: dict[str, PhoneConfig] = field(default_factory=dict)  # by lower-case name
    path: Path | None = None

    @property
    def active(self) -> PhoneConfig | None:
        """The phone with ``active=yes`` (the last one read wins, as in chan_console)."""
        chosen = None
        for phone in self.phones.values():
            if phone.active:
                chosen = phone
        return chosen


def _gain(value: str) -> float:
    try:
        gain = float(value.strip())
    except ValueError:
        raise ValueFormError(value, "decibels from -30 to 30") from None
    if not -30.0 <= gain <= 30.0:
        raise ValueFormError(value, "decibels from -30 to 30")
    return gain


def _frame_ms(value: str) -> int:
    ms = parse_int(value, minimum=10, maximum=60)
    if ms % 10:
        raise ValueFormError(value, "10, 20, 30, 40, 50 or 60")
    return ms


def _digit(value: str) -> str:
    digit = value.strip().upper()
    if len(digit) != 1 or digit not in _DTMF:
        raise ValueFormError(value, f"one DTMF digit ({_DTMF})")
    return digit


def _box_id(value: str) -> str:
    text = value.strip()
    if not re.fullmatch(r"[0-9]{1,16}", text):
        raise ValueFormError(value, "1 to 16 decimal digits (it is sent as DTMF)")
    return text


def _targets(value: str) -> tuple[str, ...]:
    targets = tuple(t.strip() for t in value.split(",") if t.strip())
    if not targets or any("/" not in t or t.startswith("/") for t in targets):
        raise ValueFormError(value, "dial strings TECH/resource separated by commas")
    return targets


def _dial_string(value: str) -> str:
    text = value.strip()
    if "/" not in text or text.startswith("/"):
        raise ValueFormError(value, "a dial string TECH/resource")
    return text


def _seconds(minimum: float, maximum: float | None = None, unit: float = 1.0,
             name: str = "seconds") -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueFormError(value, f"{name} >= {minimum:g}") from None
        if number < minimum or (maximum is not None and number > maximum):
            forms = f"{name} from {minimum:g} to {maximum:g}" if maximum else f"{name} >= {minimum:g}"
            raise ValueFormError(value, forms)
        return number * unit
    return parse


def _button(value: str) -> str:
    text = value.strip()
    if text and _BUTTON.match(text) is None:
        raise ValueFormError(value, "/dev/input/<device>:KEY_<NAME> (or BTN_<NAME>)")
    return text


def _text(value: str) -> str:
    return value.strip()


def _ringtone(value: str) -> str:
    return value.strip() or "ring"


# key -> (field, parser): the phone's own keys and those [general] may set for all.
_PHONE_KEYS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "context": ("context", _text),
    "extension": ("extension", _text),
    "language": ("language", _text),
    "mohinterpret": ("mohinterpret", _text),
    "autoanswer": ("autoanswer", parse_bool),
    "overridecontext": ("overridecontext", parse_bool),
    "immediate": ("immediate", parse_bool),
    "samplerate": ("samplerate", lambda v: parse_int(v, minimum=0, maximum=192000)),
    "frame_ms": ("frame_ms", _frame_ms),
    "rx_gain": ("rx_gain", _gain),
    "tx_gain": ("tx_gain", _gain),
    "ringtone": ("ringtone", _ringtone),
    "early_media": ("early_media", parse_bool),
}
_DEVICE_ONLY: dict[str, tuple[str, Callable[[str], Any]]] = {
    "input_device": ("input_device", _text),
    "output_device": ("output_device", _text),
    "active": ("active", parse_bool),
    "button": ("button", _button),
}
_BOX_KEYS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "alarm_targets": ("alarm_targets", _targets),
    "alarm_ring_timeout": ("alarm_ring_timeout", _seconds(1.0, 300.0)),
    "ack_digit": ("ack_digit", _digit),
    "ack_timeout": ("ack_timeout", _seconds(5.0, 300.0)),
    "alarm_give_up": ("alarm_give_up", _seconds(1.0, unit=60.0, name="minutes")),
    "location": ("location", _text),
    "box_id": ("box_id", _box_id),
    "test_target": ("test_target", _dial_string),
    "test_interval": ("test_interval", _seconds(0.01, unit=3600.0, name="hours")),
    "test_retry": ("test_retry", _seconds(0.1, unit=60.0, name="minutes")),
    "connecting_prompt": ("connecting_prompt", _text),
    "helping_prompt": ("helping_prompt", _text),
}
# jb* (main/abstract_jb.c): the phone always buffers what comes from the network, so
# jbenable/jbforce have nothing to switch; the sizes tune its buffer.
_JB_KEYS = {"jbmaxsize": "maxjitterbuffer", "jbresyncthreshold": "resyncthreshold",
            "jbtargetextra": "jittertargetextra"}
_ACCEPTED = ("parkinglot", "jbenable", "jbforce", "jbimpl", "jblog", "jbsyncvideo")


class _Reader:
    def __init__(self) -> None:
        self.problems: list[Diagnostic] = []

    def report(self, severity: Severity, message: str, origin: Origin | None) -> None:
        self.problems.append(Diagnostic(severity, message, origin))

    def read(self, category: Category, *, general: bool,
             base: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
        """The phone, box and jitter-buffer values *category* sets over *base*."""
        phone: dict[str, Any] = dict(base.get("phone", {}))
        box: dict[str, Any] = dict(base.get("box", {}))
        jb: dict[str, int] = dict(base.get("jb", {}))
        for variable in category.variables:
            key = variable.name.lower()
            if key == "callerid":
                phone["callerid_name"], phone["callerid_num"] = parse_callerid(variable.value)
            elif key in _PHONE_KEYS:
                self._set(phone, _PHONE_KEYS[key], variable)
            elif key in _DEVICE_ONLY and not general:
                self._set(phone, _DEVICE_ONLY[key], variable)
            elif key in _BOX_KEYS:
                self._set(box, _BOX_KEYS[key], variable)
            elif key in _JB_KEYS:
                self._set(jb, (_JB_KEYS[key], lambda v: parse_int(v, minimum=-1)), variable)
            elif key not in _ACCEPTED:
                self.report(Severity.WARNING, f"Unknown option '{variable.name}'", variable.origin)
        return phone, box, jb

    def _set(self, into: dict[str, Any], spec: tuple[str, Callable[[str], Any]],
             variable: Variable) -> None:
        name, parse = spec
        try:
            into[name] = parse(variable.value)
        except ValueFormError as exc:
            self.report(Severity.ERROR, f"{variable.name}: {exc}", variable.origin)


def _build_box(name: str, values: dict[str, Any], origin: Origin,
               reader: _Reader) -> BoxConfig | None:
    if not values.get("alarm_targets") and not values.get("test_target"):
        return None
    box = BoxConfig(**values)
    if box.test_target and not box.box_id:
        reader.report(Severity.ERROR, f"phone box '{name}': test_target needs a box_id "
                      "(digits) for the test report", origin)
    if box.test_interval > MAX_TEST_INTERVAL_HOURS * 3600:
        reader.report(Severity.WARNING, f"phone box '{name}': test_interval is longer than "
                      f"{MAX_TEST_INTERVAL_HOURS} h; testing every {MAX_TEST_INTERVAL_HOURS} h",
                      origin)
        box = replace(box, test_interval=MAX_TEST_INTERVAL_HOURS * 3600.0)
    return box


def _build(categories: list[Category], path: Path | None) -> tuple[ConsoleConfig,
                                                                   list[Diagnostic]]:
    reader = _Reader()
    base: dict[str, Any] = {}
    for category in categories:
        if category.name.lower() == "general":
            phone, box, jb = reader.read(category, general=True, base=base)
            base = {"phone": phone, "box": box, "jb": jb}
    phones: dict[str, PhoneConfig] = {}
    for category in categories:
        if category.name.lower() == "general":
            continue
        phone, box, jb = reader.read(category, general=False, base=base)
        for key in ("input_device", "output_device"):
            if not phone.get(key):
                reader.report(Severity.ERROR, f"phone '{category.name}': {key} is required "
                              "(a device name or number, or 'default')", category.origin)
        config = PhoneConfig(category.name, category.origin, **phone,
                             jitterbuffer=JitterBufferSettings(**jb),
                             box=_build_box(category.name, box, category.origin, reader))
        if category.name.lower() in phones:
            reader.report(Severity.WARNING, f"phone '{category.name}' is defined again; "
                          "the later section wins", category.origin)
        phones[category.name.lower()] = config
    return ConsoleConfig(phones, path), reader.problems


def load_console_config(path: Path) -> tuple[ConsoleConfig, list[Diagnostic]]:
    """Read *path*; a missing file means no local phones."""
    if not path.is_file():
        return ConsoleConfig(), []
    try:
        config = load_config(path)
    except ConfigError as exc:
        return ConsoleConfig(path=path), exc.diagnostics
    console, problems = _build(config.sections(), path)
    return console, [*config.diagnostics, *problems]


def parse_console_config(text: str, filename: str = "console.conf") -> tuple[ConsoleConfig,
                                                                             list[Diagnostic]]:
    """The same from text (tests, tools)."""
    config = parse_config_text(text, filename)
    console, problems = _build(config.sections(), None)
    return console, [*config.diagnostics, *problems]
