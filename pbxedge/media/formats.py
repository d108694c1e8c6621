"""The audio formats pbxedge carries, with Asterisk's sizes, rates and quality values.

A payload of a format is always in the *IAX2 wire convention*: slin big-endian, slin16
little-endian (x86 Asterisk sends it in host order), the rest as the codec defines it.
Sizes follow `main/codec_builtin.c`: counts round down to whole codec units, as Asterisk's
``samples_count``/``get_length`` callbacks do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PayloadError(ValueError):
    """A payload that is not a whole number of units of its format (or not valid for it)."""


class Format(StrEnum):
    ULAW = "ulaw"
    ALAW = "alaw"
    SLIN = "slin"
    SLIN16 = "slin16"
    G722 = "g722"
    GSM = "gsm"

    @property
    def sample_rate(self) -> int:
        return _SPECS[self].rate

    @property
    def lossless(self) -> bool:
        """True for signed linear: Asterisk's translation costs treat only codecs named
        ``slin`` (any rate) as lossless."""
        return _SPECS[self].lossless

    @property
    def quality(self) -> int:
        """Asterisk's codec quality, used to break translation-cost ties (ulaw = 100)."""
        return _SPECS[self].quality

    @property
    def unit_bytes(self) -> int:
        """Bytes of the smallest whole piece of a payload (33 for a GSM frame)."""
        return _SPECS[self].unit_bytes

    @property
    def unit_samples(self) -> int:
        """Samples in one unit (160 for a GSM frame, 2 for a G.722 byte)."""
        return _SPECS[self].unit_samples

    def samples_in(self, nbytes: int) -> int:
        """Samples carried by ``nbytes`` of payload (partial units do not count)."""
        spec = _SPECS[self]
        return nbytes // spec.unit_bytes * spec.unit_samples

    def bytes_for(self, samples: int) -> int:
        """Payload bytes for ``samples`` samples (partial units do not count)."""
        spec = _SPECS[self]
        return samples // spec.unit_samples * spec.unit_bytes

    def ms_in(self, nbytes: int) -> int:
        """Milliseconds of audio in ``nbytes``, truncated as chan_iax2's timestamps are."""
        return self.samples_in(nbytes) // (self.sample_rate // 1000)

    def bytes_for_ms(self, ms: int) -> int:
        """Payload bytes of an ``ms`` millisecond frame; ValueError if that is not whole units."""
        samples = ms * self.sample_rate // 1000
        if ms <= 0 or samples % self.unit_samples:
            raise ValueError(f"{ms} ms is not a whole number of {self} units")
        return self.bytes_for(samples)

    @property
    def frame_bytes(self) -> int:
        """Bytes of the default 20 ms frame."""
        return self.bytes_for_ms(20)

    @property
    def frame_samples(self) -> int:
        """Samples in the default 20 ms frame."""
        return self.sample_rate // 50

    def check_payload(self, payload: bytes) -> None:
        """Raise PayloadError unless ``payload`` is a whole number of units."""
        if len(payload) % self.unit_bytes:
            raise PayloadError(
                f"{self} payload of {len(payload)} bytes is not a multiple of {self.unit_bytes}"
            )


@dataclass(frozen=True)
class _Spec:
    rate: int
    unit_bytes: int
    unit_samples: int
    lossless: bool
    quality: int


# Quality values are codec_builtin.c's: slin16 117, slin 115, g722 110, ulaw and alaw 100
# (ulaw is the reference), gsm 40.
_SPECS: dict[Format, _Spec] = {
    Format.ULAW: _Spec(8000, 1, 1, False, 100),
    Format.ALAW: _Spec(8000, 1, 1, False, 100),
    Format.SLIN: _Spec(8000, 2, 1, True, 115),
    Format.SLIN16: _Spec(16000, 2, 1, True, 117),
    Format.G722: _Spec(16000, 1, 2, False, 110),
    Format.GSM: _Spec(8000, 33, 160, False, 40),
}
