"""Translation costs, paths and choices as Asterisk's translate.c computes them (media.md §2.6)."""

import numpy as np
import pytest

from pbxedge.media import g711
from pbxedge.media.codecs import make_decoder, make_encoder
from pbxedge.media.formats import Format, PayloadError
from pbxedge.media.translate import DIRECT, ROUTES, Cost, Translator, best_choice, route, table_cost
from tests.media.signals import snr_db, tone

U, A, S, S16, G, GSM = Format.ULAW, Format.ALAW, Format.SLIN, Format.SLIN16, Format.G722, Format.GSM


@pytest.mark.parametrize(
    ("src", "dst", "cost"),
    [
        (S, S16, 800000),  # lossless -> lossless, up
        (S16, S, 850000),  # lossless -> lossless, down
        (S, U, 600000),  # lossless -> lossy, same rate
        (S16, G, 600000),
        (S, G, 825000),  # lossless -> lossy, up (g722 is 16 kHz)
        (U, S, 900000),  # lossy -> lossless, same rate
        (G, S16, 900000),
        (G, S, 960000),  # lossy -> lossless, down
        (U, A, 915000),  # lossy -> lossy, same rate
    ],
)
def test_table_costs_follow_generate_table_cost(src: Format, dst: Format, cost: int) -> None:
    assert table_cost(src, dst) == cost


def test_cost_order_of_the_rules() -> None:
    assert list(Cost) == sorted(Cost)
    assert Cost.LL_LL_ORIGSAMP == 400000 and Cost.LY_LY_DOWNSAMP == 975000


@pytest.mark.parametrize(
    ("src", "dst", "path"),
    [
        (U, A, (U, A)),  # codec_a_mu, not through slin
        (A, U, (A, U)),
        (U, G, (U, S, G)),  # 900000 + 825000 beats going up to slin16 first
        (G, U, (G, S, U)),  # g722's narrowband decoder, then µ-law
        (G, GSM, (G, S, GSM)),
        (U, S16, (U, S, S16)),
        (S16, U, (S16, S, U)),
        (S16, G, (S16, G)),
        (GSM, A, (GSM, S, A)),
        (S, S, (S,)),
    ],
)
def test_paths(src: Format, dst: Format, path: tuple[Format, ...]) -> None:
    assert route(src, dst).path == path


def test_every_pair_has_a_path_and_direct_translators_are_used_directly() -> None:
    assert len(ROUTES) == 30
    for (src, dst), found in ROUTES.items():
        assert found.path[0] == src and found.path[-1] == dst
        assert found.cost == sum(
            table_cost(a, b) for a, b in zip(found.path, found.path[1:], strict=False)
        )
        assert ((src, dst) in DIRECT) == (not found.multistep)


@pytest.mark.parametrize(
    ("src_caps", "dst_caps", "choice"),
    [
        ([U, S16], [S16, U], (S16, S16)),  # common formats: the highest rate
        ([A, U], [U, A], (U, U)),  # equal rates: the first of the destination's
        ([GSM, U], [A], (U, A)),  # direct µ-law -> A-law beats gsm -> slin -> alaw
        ([S, U, GSM], [A], (S, A)),  # a lossless source is cheaper still
        ([GSM, U], [G], (U, G)),  # equal cost and steps: the better source codec
        ([U, GSM], [G], (U, G)),
        ([G], [U, S16], (G, S16)),  # direct g722 -> slin16 beats two steps
        ([S16, S], [U], (S, U)),
        ([], [U], None),
    ],
)
def test_best_choice(
    src_caps: list[Format], dst_caps: list[Format], choice: tuple[Format, Format] | None
) -> None:
    assert best_choice(src_caps, dst_caps) == choice


def test_ulaw_alaw_translation_is_the_direct_table() -> None:
    codes = bytes(range(256))
    assert Translator(U, A).convert(codes) == g711.ulaw_to_alaw(codes)
    assert Translator(A, U).convert(codes) == g711.alaw_to_ulaw(codes)


def test_same_format_passes_payloads_through() -> None:
    payload = bytes(range(160))
    assert Translator(U, U).convert(payload) is payload
    with pytest.raises(PayloadError):
        Translator(S, S).convert(b"\0" * 3)
    with pytest.raises(PayloadError):
        Translator(S, U).convert(b"\0" * 3)


def min_snr(path: tuple[Format, ...]) -> float:
    if GSM in path:
        return 15
    if U in path or A in path:
        return 30
    if G in path:
        return 40
    return 75


@pytest.mark.parametrize("src", list(Format))
@pytest.mark.parametrize("dst", list(Format))
def test_a_tone_crosses_every_translation(src: Format, dst: Format) -> None:
    pcm = tone(997, src.sample_rate, src.sample_rate)
    encoder, translator, decoder = make_encoder(src), Translator(src, dst), make_decoder(dst)
    size = src.frame_samples
    out_frames = [
        decoder.decode(translator.convert(encoder.encode(pcm[i : i + size])))
        for i in range(0, len(pcm), size)
    ]
    out = np.concatenate(out_frames)
    # one second in, one second out (less what a GSM encoder holds for its next frame)
    assert abs(len(out) - dst.sample_rate) <= (160 if dst is GSM else 2)
    if GSM not in translator.path:
        assert {len(f) for f in out_frames[2:]} == {dst.frame_samples}  # 20 ms in, 20 ms out
    assert snr_db(out, 997, dst.sample_rate) > min_snr(translator.path)
