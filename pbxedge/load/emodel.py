"""The E-model of ITU-T G.107: a transmission rating R and an estimated MOS for one call.

Every parameter but the ones a load test measures keeps G.107's default value (Table 3:
SLR 8, RLR 2, STMR 15, LSTR 18, Ds = Dr = 3, TELR 65, WEPL 110, Nc −70, Nfor −64,
Ps = Pr = 35, qdu 1, A 0), so a perfect call rates R ≈ 93.2. What a call contributes:

- the one-way mouth-to-ear delay *Ta* (and, as G.107 does for a four-wire line with good
  echo control, T = Ta and Tr = 2·Ta);
- the packet loss *Ppl* (%) with its burstiness *BurstR* (1: random loss);
- the codec's equipment impairment *Ie* and loss robustness *Bpl* from ITU-T G.113
  Appendix I (:data:`CODEC_IMPAIRMENTS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["CODEC_IMPAIRMENTS", "CodecImpairment", "mos_from_r", "r_factor"]


@dataclass(frozen=True, slots=True)
class CodecImpairment:
    ie: float  # equipment impairment factor without loss
    bpl: float  # packet-loss robustness factor


# ITU-T G.113 Appendix I values, by Asterisk codec name. G.711 is the "no packet loss
# concealment, random loss" row (the load tool plays what arrives, gaps and all); codecs
# G.113 gives no Bpl for carry G.711's robustness as a conservative estimate. Wideband codecs
# are rated on the narrowband scale (G.107, not G.107.1), as if they were G.711.
CODEC_IMPAIRMENTS: dict[str, CodecImpairment] = {
    "ulaw": CodecImpairment(0.0, 4.3),
    "alaw": CodecImpairment(0.0, 4.3),
    "slin": CodecImpairment(0.0, 4.3),
    "slin16": CodecImpairment(0.0, 4.3),
    "g722": CodecImpairment(0.0, 4.3),
    "g726": CodecImpairment(7.0, 4.3),  # 32 kbit/s
    "g729": CodecImpairment(11.0, 19.0),  # G.729A + VAD
    "g723": CodecImpairment(15.0, 16.1),  # 6.3 kbit/s
    "gsm": CodecImpairment(20.0, 4.3),  # GSM 06.10 full rate
    "ilbc": CodecImpairment(11.0, 19.0),  # not in G.113: taken as G.729A
}
_DEFAULT_IMPAIRMENT = CodecImpairment(0.0, 4.3)

# G.107 Table 3 defaults.
_SLR, _RLR, _STMR, _LSTR = 8.0, 2.0, 15.0, 18.0
_DS = _DR = 3.0
_TELR, _WEPL = 65.0, 110.0
_NC, _NFOR, _PS, _PR = -70.0, -64.0, 35.0, 35.0
_QDU, _A = 1.0, 0.0


def _power_sum(*levels: float) -> float:
    return 10 * math.log10(sum(10 ** (level / 10) for level in levels))


def _basic() -> tuple[float, float, float]:
    """Ro, No and Is, which depend only on the default parameters."""
    olr = _SLR + _RLR
    nos = _PS - _SLR - _DS - 100 + 0.004 * (_PS - olr - _DS - 14) ** 2
    pre = _PR + 10 * math.log10(1 + 10 ** ((10 - _LSTR) / 10))
    nor = _RLR - 121 + pre + 0.008 * (pre - 35) ** 2
    nfo = _NFOR + _RLR
    no = _power_sum(_NC, nos, nor, nfo)
    ro = 15 - 1.5 * (_SLR + no)
    xolr = olr + 0.2 * (64 + no - _RLR)
    iolr = 20 * ((1 + (xolr / 8) ** 8) ** (1 / 8) - xolr / 8)
    stmro = -10 * math.log10(10 ** (-_STMR / 10) + 10 ** (-_TELR / 10))  # T = 0 here
    ist = (12 * (1 + ((stmro - 13) / 6) ** 8) ** (1 / 8)
           - 28 * (1 + ((stmro + 1) / 19.4) ** 35) ** (1 / 35)
           - 13 * (1 + ((stmro - 3) / 33) ** 13) ** (1 / 13) + 29)
    q = 37 - 15 * math.log10(_QDU)
    g = 1.07 + 0.258 * q + 0.0602 * q * q
    y = (ro - 100) / 15 + 46 / 8.4 - g / 9
    z = 46 / 30 - g / 40
    iq = 15 * math.log10(1 + 10**y + 10**z)
    return ro, no, iolr + ist + iq


_RO, _NO, _IS = _basic()


def _delay_impairment(ta: float) -> float:
    """Id = Idte + Idle + Idd for a one-way delay *ta* (ms), T = Ta, Tr = 2·Ta."""
    t, tr = ta, 2 * ta
    roe = -1.5 * (_NO - _RLR)
    terv = _TELR - 40 * math.log10((1 + t / 10) / (1 + t / 150)) + 6 * math.exp(-0.3 * t * t)
    re = 80 + 2.5 * (terv - 14)
    idte = ((roe - re) / 2 + math.sqrt((roe - re) ** 2 / 4 + 100) - 1) * (1 - math.exp(-t))
    rle = 10.5 * (_WEPL + 7) * float(tr + 1) ** -0.25
    idle = (_RO - rle) / 2 + math.sqrt((_RO - rle) ** 2 / 4 + 169)
    idd = 0.0
    if ta > 100:
        x = math.log10(ta / 100) / math.log10(2)
        idd = 25 * ((1 + x**6) ** (1 / 6) - 3 * (1 + (x / 3) ** 6) ** (1 / 6) + 2)
    return float(idte + idle + idd)


def r_factor(*, delay_ms: float, loss_pct: float, codec: str = "ulaw",
             burst_ratio: float = 1.0) -> float:
    """G.107's R for a call with one-way delay *delay_ms* and packet loss *loss_pct* (%)."""
    impairment = CODEC_IMPAIRMENTS.get(codec, _DEFAULT_IMPAIRMENT)
    ppl = min(max(loss_pct, 0.0), 100.0)
    ie_eff = impairment.ie + (95 - impairment.ie) * ppl / (ppl / burst_ratio + impairment.bpl)
    return _RO - _IS - _delay_impairment(max(delay_ms, 0.0)) - ie_eff + _A


def mos_from_r(r: float) -> float:
    """G.107 Annex B: the estimated mean opinion score (conversational quality, 1 to 4.5)."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    # The polynomial dips just below 1 for R under about 6.5: 1 is the floor of the scale.
    return max(1.0, float(1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6))
