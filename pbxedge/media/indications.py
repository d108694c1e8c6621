"""Tone zones from ``indications.conf``: the country-specific dial, busy, ring… tones.

Read as Asterisk's ``main/indications.c`` reads the file: every category but
``[general]`` is a zone named after its country code (matched case-insensitively); in a
zone ``description`` is its name, ``ringcadence`` the bell's on/off milliseconds (a
second ``ringcadence`` line adds to the first, as in Asterisk), and
every other key a tone (``dial``, ``busy``, ``ring``, ``congestion``, ``callwaiting``,
``dialrecall``, ``record``, ``info``, ``stutter`` or any name ``Playtones()`` may ask for).
A repeated key replaces the earlier tone; a repeated category adds to its zone.
``[general] country`` picks the default zone; when it is missing or unknown the first
zone of the file is the default, with a warning.

Without an ``indications.conf`` the zones of Asterisk's sample file for ``us``, ``uk``,
``de`` and ``cn`` are built in. Asterisk only finds a broken tone list when it is played;
here it is reported at load time with its ``file:line``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from pbxedge.config.diagnostics import Diagnostic, Origin, Severity
from pbxedge.config.loader import ConfigFile, load_config, parse_config_text
from pbxedge.media.tones import ToneListError, parse_tone_list

__all__ = ["BUILTIN_INDICATIONS", "Indications", "ToneZone"]

# From Asterisk's configs/samples/indications.conf.sample.
BUILTIN_INDICATIONS = """\
[general]
country = us

[cn]
description = China
ringcadence = 1000,4000
dial = 450
busy = 450/350,0/350
ring = 450/1000,0/4000
congestion = 450/700,0/700
callwaiting = 450/400,0/4000
dialrecall = 450
record = 950/400,0/10000
info = 450/100,0/100,450/100,0/100,450/100,0/100,450/400,0/400
stutter = 450+425

[de]
description = Germany
ringcadence = 1000,4000
dial = 425
busy = 425/480,0/480
ring = 425/1000,0/4000
congestion = 425/240,0/240
callwaiting = !425/200,!0/200,!425/200,!0/5000,!425/200,!0/200,!425/200,!0/5000,\
!425/200,!0/200,!425/200,!0/5000,!425/200,!0/200,!425/200,!0/5000,!425/200,!0/200,!425/200,0
dialrecall = !425/100,!0/100,!425/100,!0/100,!425/100,!0/100,425
record = 1400/80,0/15000
info = 950/330,1400/330,1800/330,0/1000
stutter = 425+400

[uk]
description = United Kingdom
ringcadence = 400,200,400,2000
dial = 350+440
specialdial = 350+440/750,440/750
busy = 400/375,0/375
congestion = 400/400,0/350,400/225,0/525
specialcongestion = 400/200,1004/300
unobtainable = 400
ring = 400+450/400,0/200,400+450/400,0/2000
callwaiting = 400/100,0/4000
specialcallwaiting = 400/250,0/250,400/250,0/250,400/250,0/5000
creditexpired = 400/125,0/125
confirm = 1400
switching = 400/200,0/400,400/2000,0/400
info = 950/330,0/15,1400/330,0/15,1800/330,0/1000
record = 1400/500,0/60000
stutter = 350+440/750,440/750

[us]
description = United States / North America
ringcadence = 2000,4000
dial = 350+440
busy = 480+620/500,0/500
ring = 440+480/2000,0/4000
congestion = 480+620/250,0/250
callwaiting = 440/300,0/10000
dialrecall = !350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,350+440
record = 1400/500,0/15000
info = !950/330,!1400/330,!1800/330,0
stutter = !350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,\
!350+440/100,!0/100,!350+440/100,!0/100,350+440
"""
_BUILTIN_NAME = "<built-in indications>"

_CADENCE = re.compile(r"\d+")

_Warn = Callable[[str, Origin | None], None]


@dataclass(slots=True)
class ToneZone:
    """One country's tones, keyed by lower-case name in definition order (tone names
    are case-insensitive, as in Asterisk)."""

    country: str
    description: str = ""
    ringcadence: tuple[int, ...] = ()
    tones: dict[str, str] = field(default_factory=dict)

    def tone(self, name: str) -> str | None:
        """The tone list called *name*, or None when the zone has no such tone."""
        return self.tones.get(name.lower())


class Indications:
    """All tone zones of one ``indications.conf`` (or the built-in ones)."""

    def __init__(
        self, zones: list[ToneZone], default: str | None, diagnostics: list[Diagnostic]
    ) -> None:
        self._zones = {zone.country.lower(): zone for zone in zones}
        self.default_country = default
        self.diagnostics = diagnostics

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None) -> Indications:
        """Read *path*, or use the built-in zones when it is None (no indications.conf).
        Raises :class:`~pbxedge.config.diagnostics.ConfigError` only when *path* cannot
        be read; problems in its content become :attr:`diagnostics`."""
        if path is None:
            return cls.builtin()
        return _build(load_config(path))

    @classmethod
    def parse_text(cls, text: str, filename: str = "indications.conf") -> Indications:
        return _build(parse_config_text(text, filename))

    @classmethod
    def builtin(cls) -> Indications:
        return cls.parse_text(BUILTIN_INDICATIONS, _BUILTIN_NAME)

    def zone(self, country: str | None = None) -> ToneZone | None:
        """The zone of *country* (case-insensitive), the default zone for None or "",
        or None when there is no such zone."""
        if not country:
            country = self.default_country
        return self._zones.get(country.lower()) if country else None

    def countries(self) -> list[str]:
        return [zone.country for zone in self._zones.values()]


def _build(config: ConfigFile) -> Indications:
    diagnostics = list(config.diagnostics)
    zones: dict[str, ToneZone] = {}
    country: str | None = None
    country_origin: Origin | None = None

    def warn(message: str, origin: Origin | None) -> None:
        diagnostics.append(Diagnostic(Severity.WARNING, message, origin))

    for category in config.sections():
        if category.name.lower() == "general":
            setting = category.get("country")
            if setting is not None:
                country, country_origin = setting.value.strip(), setting.origin
            continue
        zone = zones.setdefault(category.name.lower(), ToneZone(category.name))
        for variable in category.variables:
            key = variable.name.lower()
            if key == "description":
                zone.description = variable.value
            elif key == "ringcadence":
                # Asterisk appends: a second ringcadence line continues the first.
                zone.ringcadence += _ringcadence(variable.value, variable.origin, warn)
            elif not variable.name or not variable.value:
                warn(f"tone '{variable.name}' has no tone list; ignored", variable.origin)
            else:
                _check_tone_list(variable.name, variable.value, variable.origin, warn)
                zone.tones.pop(key, None)  # a redefinition moves to the end, as in Asterisk
                zone.tones[key] = variable.value

    default = next(iter(zones.values())).country if zones else None
    if country and country.lower() in zones:
        default = zones[country.lower()].country
    elif zones:
        if country:
            warn(f"country '{country}' has no zone; the default tone zone is '{default}'",
                 country_origin)
        else:
            warn(f"{config.path}: no [general] country; the default tone zone is '{default}'",
                 None)
    return Indications(list(zones.values()), default, diagnostics)


def _ringcadence(value: str, origin: Origin, warn: _Warn) -> tuple[int, ...]:
    cadence: list[int] = []
    for item in value.split(","):
        text = item.strip()
        match = _CADENCE.match(text)
        if match is None:
            warn(f"Invalid ringcadence given '{text}'; left out", origin)
            continue
        cadence.append(int(match.group()))
    return tuple(cadence)


def _check_tone_list(name: str, value: str, origin: Origin, warn: _Warn) -> None:
    try:
        parsed = parse_tone_list(value)
    except ToneListError:
        warn(f"tone '{name}': no valid tone parts in '{value}'; it cannot be played", origin)
        return
    for rejected in parsed.rejected:
        warn(f"tone '{name}': cannot parse tone part '{rejected}'; it is left out", origin)
