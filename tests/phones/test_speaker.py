"""The loudspeaker's feed: one jitter buffer between the network and the card's clock."""

from __future__ import annotations

import numpy as np

from pbxedge.channels.voice import VoiceFrame
from pbxedge.media.formats import Format
from pbxedge.phones.speaker import SpeakerFeed, decode_linear, encode_linear


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _frame(n: int, fmt: Format = Format.SLIN, stamped: bool = True) -> VoiceFrame:
    samples = np.full(fmt.frame_samples, n * 100, dtype=np.int16)
    return VoiceFrame(fmt, encode_linear(fmt, samples), len(samples),
                      n * 20 if stamped else None)


def _play(feed: SpeakerFeed, clock: Clock, arrivals: dict[int, list[VoiceFrame]],
          blocks: int, block: int = 160) -> list[np.ndarray]:
    """The card takes a block every 20 ms; frames arrive at their scheduled blocks."""
    out = []
    for tick in range(blocks):
        for frame in arrivals.get(tick, []):
            feed.put(frame)
        out.append(feed.pull(block))
        clock.now += 0.020
    return out


def test_jittery_frames_come_out_steady_and_in_order() -> None:
    clock = Clock()
    feed = SpeakerFeed(Format.SLIN, 8000, 20, clock=clock)
    # Frames 1..20, sent every 20 ms, arriving late by 0-40 ms, two of them swapped.
    delays = [0, 1, 2, 0, 1, 0, 2, 2, 0, 1, 0, 0, 1, 2, 0, 1, 0, 0, 2, 0]
    arrivals: dict[int, list[VoiceFrame]] = {}
    for n, late in enumerate(delays, start=1):
        arrivals.setdefault(n + late, []).append(_frame(n))
    out = _play(feed, clock, arrivals, 40)
    values = [int(block[0]) // 100 for block in out]
    # Every frame plays, in order; the buffer grows (a concealed gap) while it learns
    # how late frames come, and plays steadily after that.
    assert [v for v in values if v] == list(range(1, 21))
    first, last = values.index(1), values.index(20)
    assert last - first + 1 - 20 <= 2
    assert values[values.index(10):last + 1] == list(range(10, 21))
    assert feed.frames_in == 20


def test_a_wideband_frame_is_resampled_to_the_card_s_rate() -> None:
    clock = Clock()
    feed = SpeakerFeed(Format.SLIN16, 48000, 20, clock=clock)
    t = np.arange(320 * 50) / 16000
    pcm = np.rint(np.sin(2 * np.pi * 1000 * t) * 8000).astype(np.int16)
    arrivals = {i: [VoiceFrame(Format.SLIN16, encode_linear(Format.SLIN16, pcm[i * 320:(i + 1) * 320]),
                               320, i * 20)] for i in range(50)}
    out = np.concatenate(_play(feed, clock, arrivals, 60, block=960))
    assert len(out) == 60 * 960
    loud = out[np.abs(out) > 1000]
    assert 0.9 * 8000 < np.abs(loud).max() < 1.1 * 8000


def test_local_audio_and_network_audio_do_not_mix_their_clocks() -> None:
    clock = Clock()
    feed = SpeakerFeed(Format.SLIN, 8000, 20, clock=clock)
    arrivals = {0: [_frame(1)], 1: [_frame(2)], 2: [_frame(3)],
                # a prompt (no timestamps) takes over mid-call: the buffer starts over
                6: [_frame(7, stamped=False)], 7: [_frame(8, stamped=False)]}
    values = [int(b[0]) // 100 for b in _play(feed, clock, arrivals, 14)]
    assert [v for v in values if v] == [1, 2, 3, 7, 8]


def test_audio_queued_but_not_due_is_an_underflow_and_clear_forgets_it() -> None:
    clock = Clock()
    feed = SpeakerFeed(Format.SLIN, 8000, 20, clock=clock)
    feed.put(_frame(1))
    assert not feed.pull(160).any()  # due 40 ms after it came: silence meanwhile
    assert feed.underflows == 1
    feed.clear()
    clock.now += 1.0
    assert not feed.pull(160).any() and feed.underflows == 1


def test_slin_and_slin16_keep_their_wire_byte_orders() -> None:
    samples = np.array([1, -2, 300], dtype=np.int16)
    assert encode_linear(Format.SLIN, samples) == b"\x00\x01\xff\xfe\x01\x2c"
    assert encode_linear(Format.SLIN16, samples) == b"\x01\x00\xfe\xff\x2c\x01"
    frame = VoiceFrame(Format.SLIN16, encode_linear(Format.SLIN16, samples), 3)
    assert decode_linear(frame).tolist() == [1, -2, 300]


def test_gain_is_applied_to_what_the_card_plays() -> None:
    clock = Clock()
    feed = SpeakerFeed(Format.SLIN, 8000, 20, gain_db=-6.0206, clock=clock)
    out = _play(feed, clock, {0: [_frame(10)]}, 4)
    assert max(int(b.max()) for b in out) == 500
