"""Choosing and running translation paths between formats, as Asterisk's translate.c does.

Each direct translator Asterisk 22 ships between pbxedge's formats gets the table cost
``generate_table_cost`` gives it (only ``slin`` at any rate is lossless; lossless sources,
same rates and upsampling are cheaper). Longer paths come from the same repeated relaxation
as ``matrix_rebuild``, over formats in the order Asterisk's modules register them, so ties
resolve the same way. `best_choice` is ``ast_translator_best_choice``; `Translator` runs a
path on payloads with per-stream codec and resampler state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from itertools import pairwise
from typing import Final

from pbxedge.media import g711
from pbxedge.media.codecs import make_decoder, make_encoder
from pbxedge.media.formats import Format
from pbxedge.media.resample import Resampler


class Cost(IntEnum):
    """``enum ast_trans_cost_table`` (include/asterisk/translate.h): LL lossless, LY lossy."""

    LL_LL_ORIGSAMP = 400000
    LL_LY_ORIGSAMP = 600000
    LL_LL_UPSAMP = 800000
    LL_LY_UPSAMP = 825000
    LL_LL_DOWNSAMP = 850000
    LL_LY_DOWNSAMP = 875000
    LY_LL_ORIGSAMP = 900000
    LY_LY_ORIGSAMP = 915000
    LY_LL_UPSAMP = 930000
    LY_LY_UPSAMP = 945000
    LY_LL_DOWNSAMP = 960000
    LY_LY_DOWNSAMP = 975000


def table_cost(src: Format, dst: Format) -> Cost:
    """The table cost Asterisk gives a direct translator from ``src`` to ``dst``."""
    rate_change = (src.sample_rate > dst.sample_rate) - (src.sample_rate < dst.sample_rate)
    key = (
        ("LL" if src.lossless else "LY")
        + ("_LL_" if dst.lossless else "_LY_")
        + {0: "ORIGSAMP", -1: "UPSAMP", 1: "DOWNSAMP"}[rate_change]
    )
    return Cost[key]


# The direct translators of Asterisk 22 between these formats, by module.
DIRECT: Final[frozenset[tuple[Format, Format]]] = frozenset(
    {
        (Format.ULAW, Format.SLIN), (Format.SLIN, Format.ULAW),  # codec_ulaw
        (Format.ALAW, Format.SLIN), (Format.SLIN, Format.ALAW),  # codec_alaw
        (Format.ULAW, Format.ALAW), (Format.ALAW, Format.ULAW),  # codec_a_mu
        (Format.G722, Format.SLIN), (Format.SLIN, Format.G722),  # codec_g722, 8 kHz mode
        (Format.G722, Format.SLIN16), (Format.SLIN16, Format.G722),  # codec_g722
        (Format.GSM, Format.SLIN), (Format.SLIN, Format.GSM),  # codec_gsm
        (Format.SLIN, Format.SLIN16), (Format.SLIN16, Format.SLIN),  # codec_resample
    }
)  # fmt: skip

# format2index order: formats get indexes as the codec modules (loaded alphabetically)
# register their translators.
_ORDER: Final = (Format.ALAW, Format.ULAW, Format.SLIN, Format.G722, Format.SLIN16, Format.GSM)


@dataclass(frozen=True)
class Route:
    """The path Asterisk would take from ``path[0]`` to ``path[-1]`` and its table cost."""

    path: tuple[Format, ...]
    cost: int

    @property
    def multistep(self) -> bool:
        return len(self.path) > 2


def _build_routes() -> dict[tuple[Format, Format], Route]:
    # (cost, first hop) per pair, relaxed until stable exactly as matrix_rebuild does.
    matrix: dict[tuple[Format, Format], tuple[int, Format]] = {
        (src, dst): (int(table_cost(src, dst)), dst) for src, dst in DIRECT
    }
    changed = True
    while changed:
        changed = False
        for x in _ORDER:
            for y in _ORDER:
                if x == y or (x, y) not in matrix:
                    continue
                for z in _ORDER:
                    if z in (x, y) or (y, z) not in matrix:
                        continue
                    cost = matrix[x, y][0] + matrix[y, z][0]
                    if (x, z) not in matrix or cost < matrix[x, z][0]:
                        matrix[x, z] = (cost, matrix[x, y][1])
                        changed = True
    routes: dict[tuple[Format, Format], Route] = {}
    for (src, dst), (cost, _hop) in matrix.items():
        path = [src]
        while path[-1] != dst:
            path.append(matrix[path[-1], dst][1])
        routes[src, dst] = Route(tuple(path), cost)
    return routes


ROUTES: Final = _build_routes()


def route(src: Format, dst: Format) -> Route:
    """The translation path from ``src`` to ``dst`` (a one-element path when they are equal)."""
    return Route((src,), 0) if src == dst else ROUTES[src, dst]


def best_choice(
    src_caps: Sequence[Format], dst_caps: Sequence[Format]
) -> tuple[Format, Format] | None:
    """``ast_translator_best_choice``: the (source, destination) formats to use.

    A format both sides have wins, the highest sample rate first (ties: the earlier in
    ``dst_caps``). Otherwise the pair whose path has the lowest table cost or is direct, walking
    ``dst_caps`` then ``src_caps`` in order; among equal cost and steps, the smaller sample-rate
    gap, then the higher codec quality of the source, then of the destination.
    """
    best: Format | None = None
    for fmt in dst_caps:
        if fmt in src_caps and (best is None or fmt.sample_rate > best.sample_rate):
            best = fmt
    if best is not None:
        return best, best
    choice: tuple[Format, Format] | None = None
    best_cost, best_multistep = 0, True
    for dst in dst_caps:
        for src in src_caps:
            found = ROUTES.get((src, dst))
            if found is None:
                continue
            cost, multistep = found.cost, found.multistep
            # Asterisk's test: cheaper *or* fewer steps replaces the best so far.
            if choice is None or cost < best_cost or multistep < best_multistep:
                choice, best_cost, best_multistep = (src, dst), cost, multistep
            elif (cost, multistep) == (best_cost, best_multistep) and _better_tie(
                src, dst, *choice
            ):
                choice = (src, dst)
    return choice


def _better_tie(src: Format, dst: Format, best_src: Format, best_dst: Format) -> bool:
    gap = abs(src.sample_rate - dst.sample_rate)
    best_gap = abs(best_src.sample_rate - best_dst.sample_rate)
    if gap != best_gap:
        return gap < best_gap
    return (src.quality, dst.quality) > (best_src.quality, best_dst.quality)


class Translator:
    """Converts payloads of ``src`` into payloads of ``dst`` along Asterisk's path.

    Same format: the payload is passed through. µ-law <-> A-law: one ``bytes.translate``.
    Otherwise: decode to PCM, resample between the slin rates of the path, encode. Codec and
    resampler state lives here, so use one Translator per stream and direction.
    """

    def __init__(self, src: Format, dst: Format) -> None:
        self.src = src
        self.dst = dst
        self.path = route(src, dst).path
        self._table: bytes | None = None
        if src == dst:
            return
        if self.path == (Format.ULAW, Format.ALAW):
            self._table = g711.ULAW_TO_ALAW
            return
        if self.path == (Format.ALAW, Format.ULAW):
            self._table = g711.ALAW_TO_ULAW
            return
        linear = [fmt for fmt in self.path if fmt.lossless]
        self._decoder = make_decoder(src, linear[0].sample_rate)
        self._resamplers = [Resampler(a.sample_rate, b.sample_rate) for a, b in pairwise(linear)]
        self._encoder = make_encoder(dst, linear[-1].sample_rate)

    def convert(self, payload: bytes) -> bytes:
        """Translate one payload; `PayloadError` if it is not whole units of ``src``.

        Encoders that need whole units (GSM frames) keep a remainder for the next call, so an
        output may be shorter or longer than the input's duration; resampling delays by 30 ms.
        """
        if self.src == self.dst:
            self.src.check_payload(payload)
            return payload
        if self._table is not None:
            return payload.translate(self._table)
        pcm = self._decoder.decode(payload)
        for resampler in self._resamplers:
            pcm = resampler.process(pcm)
        return self._encoder.encode(pcm)
