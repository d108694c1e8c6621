"""The adaptive jitter buffer, driven like a channel drives it: frames put as they arrive,
``get`` called whenever ``next_deadline_ms`` says so."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pbxedge.iax2.rr import ReceptionReport
from pbxedge.media.jitterbuffer import (
    JbResult,
    JbStats,
    JitterBuffer,
    JitterBufferSettings,
    JitterOutput,
)

START = 100_000  # the caller's clock: any monotonic milliseconds


@dataclass(frozen=True)
class Arrival:
    at: int  # arrival time on the caller's clock
    ts: int  # sender timestamp
    item: object
    ms: int = 20
    voice: bool = True
    silence: bool = False

    @property
    def k(self) -> int:
        """The frame number of a stream() frame, -1 for anything else."""
        return self.item if isinstance(self.item, int) else -1


@dataclass
class Run:
    jb: JitterBuffer[object]
    out: list[tuple[int, JitterOutput[object]]]
    accepted: list[object]
    refused: list[object]

    def kinds(self) -> Counter[JbResult]:
        return Counter(o.kind for _, o in self.out)

    def items(self, kind: JbResult = JbResult.OK) -> list[object]:
        return [o.item for _, o in self.out if o.kind is kind]

    def timeline(self) -> list[str]:
        """Each result as a short word: the item for OK, "drop:item", "interp", "noframe"."""
        words = []
        for _, o in self.out:
            if o.kind is JbResult.OK:
                words.append(str(o.item))
            elif o.kind is JbResult.DROP:
                words.append(f"drop:{o.item}")
            else:
                words.append(o.kind.value)
        return words

    def when(self, item: object) -> int:
        return next(t for t, o in self.out if o.item == item and o.kind is JbResult.OK)


def simulate(
    arrivals: list[Arrival], *, jb: JitterBuffer[object] | None = None, until: int | None = None
) -> Run:
    """Event-driven: jump to the next arrival or deadline, put, then get until EMPTY."""
    jb = jb if jb is not None else JitterBuffer()
    pending = sorted(arrivals, key=lambda a: a.at)
    run = Run(jb, [], [], [])
    now = pending[0].at if pending else START
    end = until if until is not None else (pending[-1].at + 5000 if pending else START)
    index = 0
    while now <= end:
        while index < len(pending) and pending[index].at <= now:
            a = pending[index]
            ok = jb.put(a.item, a.ts, now, a.ms, voice=a.voice, silence=a.silence)
            (run.accepted if ok else run.refused).append(a.item)
            index += 1
        for _ in range(10_000):
            result = jb.get(now)
            if result.kind is JbResult.EMPTY:
                break
            run.out.append((now, result))
        else:
            raise AssertionError(f"get() keeps returning work at {now}")
        deadline = jb.next_deadline_ms()
        if deadline is not None:
            assert deadline > now
        candidates = [t for t in (deadline, pending[index].at if index < len(pending) else None)
                      if t is not None]
        if not candidates:
            break
        now = min(candidates)
    return run


def stream(count: int, *, jitter: list[int] | None = None, first: int = 0) -> list[Arrival]:
    """20 ms voice frames k = first…, timestamps 20·(k+1), arriving 20·k ms after START
    plus their jitter."""
    return [
        Arrival(START + 20 * k + (jitter[k - first] if jitter else 0), 20 * (k + 1), k)
        for k in range(first, first + count)
    ]


def ok_in_order(run: Run) -> bool:
    played = [item for item in run.items() if isinstance(item, int)]
    return played == sorted(played) and len(played) == len(set(played))


# -- timing and order ---------------------------------------------------------------------------


def test_steady_stream_plays_every_frame_at_the_target_delay() -> None:
    run = simulate(stream(200), until=START + 20 * 200 + 30)
    assert run.items() == list(range(200))
    assert run.kinds() == {JbResult.OK: 200}
    # Played jittertargetextra (40 ms) after arrival, every 20 ms.
    assert [run.when(k) - (START + 20 * k) for k in (0, 1, 100, 199)] == [40, 40, 40, 40]
    stats = run.jb.stats()
    assert (stats.jitter, stats.min, stats.delay, stats.target) == (0, 0, 40, 40)
    assert (stats.frames_in, stats.frames_out, stats.frames_lost, stats.frames_ooo) == (200, 200, 0, 0)


def test_target_extra_setting_sets_the_delay() -> None:
    jb: JitterBuffer[object] = JitterBuffer(JitterBufferSettings(jittertargetextra=100))
    run = simulate(stream(20), jb=jb, until=START + 500)
    assert run.when(0) - START == 100
    assert JitterBuffer(JitterBufferSettings(jittertargetextra=-1)).stats().current == 40


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seeded_jitter_plays_in_order_at_an_adapted_delay(seed: int) -> None:
    rng = random.Random(seed)
    jitter = [rng.randint(0, 80) for _ in range(1500)]
    run = simulate(stream(1500, jitter=jitter), until=START + 20 * 1500)
    assert ok_in_order(run)
    played = run.items()
    assert len(played) >= 1500 * 0.97
    stats = run.jb.stats()
    # 3 % trimmed spread of a uniform 0–80 ms jitter, and a delay that covers it.
    assert 65 <= stats.jitter <= 80
    assert stats.target == stats.jitter + stats.min + 40
    assert stats.delay >= stats.jitter
    assert stats.frames_late <= 1500 * 0.02


def test_reordered_frames_come_out_in_order() -> None:
    arrivals = stream(300)
    swapped = 0
    for k in range(10, 290, 7):  # frame k arrives just after frame k+1
        arrivals[k] = dataclasses.replace(arrivals[k], at=arrivals[k + 1].at + 5)
        swapped += 1
    run = simulate(arrivals, until=START + 20 * 300 + 200)
    assert run.items() == list(range(300))
    stats = run.jb.stats()
    assert stats.frames_ooo == swapped and stats.frames_late == 0
    # The buffer grew (by interpolation) to cover the 25 ms lateness; nothing was lost
    # before the stream ended.
    assert stats.current > 40
    words = run.timeline()
    assert stats.frames_lost == len(words) - 1 - words.index("299")


# -- loss ---------------------------------------------------------------------------------------


def expected_loss_x1000(run: Run) -> int:
    """The exponential average replayed over what the buffer returned."""
    loss = 0
    for _, o in run.out:
        if o.kind in (JbResult.OK, JbResult.DROP) and isinstance(o.item, int):
            loss = 499 * loss // 500
        elif o.kind is JbResult.INTERP:
            loss = (100_000 + 499 * loss) // 500
    return loss


def test_lost_frames_are_interpolated_in_their_slots() -> None:
    arrivals = [a for a in stream(300) if a.k % 10 != 5]
    run = simulate(arrivals, until=START + 20 * 299 + 41)
    words = run.timeline()
    assert words[:8] == ["0", "1", "2", "3", "4", "interp", "6", "7"]
    assert words.count("interp") == 30
    assert [w for w in words if w != "interp"] == [str(k) for k in range(300) if k % 10 != 5]
    assert all(o.ms == 20 for _, o in run.out if o.kind is JbResult.INTERP)
    stats = run.jb.stats()
    assert stats.frames_lost == 30
    assert stats.loss_pct_x1000 == expected_loss_x1000(run) > 0
    assert stats.loss_pct == stats.loss_pct_x1000 // 1000


@pytest.mark.parametrize("limit", [10, 4])
def test_a_long_gap_is_concealed_up_to_the_limit_then_silence(limit: int) -> None:
    arrivals = [a for a in stream(300) if not 100 <= a.k < 130]
    jb: JitterBuffer[object] = JitterBuffer(JitterBufferSettings(maxjitterinterps=limit))
    run = simulate(arrivals, jb=jb, until=START + 20 * 299 + 41)
    words = run.timeline()
    gap = words[words.index("99") + 1 : words.index("130")]
    assert gap[:limit] == ["interp"] * limit
    assert set(gap[limit:]) <= {"noframe"}
    assert [w for w in words if w.isdigit()] == [str(k) for k in range(300) if not 100 <= k < 130]
    # Audio resumes at the target delay.
    assert run.when(130) - (START + 20 * 130) == 40


def test_late_frame_is_dropped_and_its_loss_taken_back() -> None:
    arrivals = stream(120)
    arrivals[60] = dataclasses.replace(arrivals[60], at=arrivals[60].at + 300)
    run = simulate(arrivals, until=START + 20 * 119 + 41)
    assert run.items(JbResult.DROP) == [60]
    assert ok_in_order(run) and 60 not in run.items()
    stats = run.jb.stats()
    assert (stats.frames_late, stats.frames_lost) == (1, 0)
    # One outlier in 120 is trimmed by the 3 % rule: the jitter estimate stays 0.
    assert stats.jitter == 0


# -- resync -------------------------------------------------------------------------------------


@pytest.mark.parametrize("jump", [10_000, -3_000])
def test_timestamp_jump_resyncs_on_the_fourth_outlier(jump: int) -> None:
    arrivals = [
        dataclasses.replace(a, ts=a.ts + jump) if a.k >= 200 else a
        for a in stream(300)
    ]
    run = simulate(arrivals, until=START + 20 * 299 + 41)
    assert run.refused == [200, 201, 202]
    words = run.timeline()
    assert words[words.index("199") + 1 : words.index("203") + 1] == ["interp"] * 3 + ["203"]
    assert [w for w in words if w.isdigit()] == [str(k) for k in range(300) if not 200 <= k < 203]
    stats = run.jb.stats()
    assert stats.resyncs == 1 and stats.frames_dropped == 3
    assert run.when(250) - (START + 20 * 250) == 40  # back on the old delay


def test_resync_threshold_minus_one_disables_resync() -> None:
    arrivals = [
        dataclasses.replace(a, ts=a.ts + 10_000) if a.k >= 50 else a
        for a in stream(60)
    ]
    jb: JitterBuffer[object] = JitterBuffer(JitterBufferSettings(resyncthreshold=-1))
    run = simulate(arrivals, jb=jb, until=START + 20 * 60 + 500)
    assert run.jb.stats().resyncs == 0
    # No outlier is refused (the resync rule would have refused 50–52); 51 found the queue
    # spanning 10 s (49 and 50) and fell to the overfill rule instead.
    assert run.refused == [51] and {50, 52, 53} <= set(run.accepted)
    # The jumped frames wait for their (far) timestamps: nothing after 49 plays yet.
    assert run.items()[-1] == 49 and len(run.jb) == 9


def test_small_delay_changes_do_not_resync() -> None:
    arrivals = [dataclasses.replace(a, at=a.at + 900) if a.k >= 50 else a for a in stream(100)]
    run = simulate(arrivals)
    assert run.refused == [] and run.jb.stats().resyncs == 0
    assert ok_in_order(run)


def test_control_frame_resyncs_at_once() -> None:
    arrivals = stream(50)
    arrivals.append(Arrival(START + 20 * 50, 20 * 51 + 10_000, "hold", ms=0, voice=False))
    arrivals += [dataclasses.replace(a, ts=a.ts + 10_000) for a in stream(30, first=50)]
    run = simulate(arrivals, until=START + 20 * 80 + 41)
    assert run.refused == []
    assert run.jb.stats().resyncs == 1
    words = run.timeline()
    assert words.index("hold") < words.index("50")
    assert [w for w in words if w.isdigit()] == [str(k) for k in range(80)]


# -- shrinking, overfill, silence ---------------------------------------------------------------


def test_buffer_shrinks_by_dropping_frames_once_jitter_calms_down() -> None:
    rng = random.Random(7)
    burst = [rng.randint(0, 200) for _ in range(250)] + [0] * 1250
    run = simulate(stream(1500, jitter=burst), until=START + 20 * 1500)
    stats = run.jb.stats()
    assert ok_in_order(run)
    assert stats.jitter == 0 and stats.target - stats.min == 40
    calm = START + 20 * 250 + 500
    drops = [t for t, o in run.out if o.kind is JbResult.DROP]
    shrink_drops = [t for t in drops if t > calm]
    assert len(drops) - len(shrink_drops) == stats.frames_late  # late ones, in the burst
    assert shrink_drops and stats.frames_dropped == len(shrink_drops)
    # One frame at most every 500 ms, until current is within jittertargetextra of target.
    assert all(b - a > 500 for a, b in itertools.pairwise(shrink_drops))
    assert stats.current - stats.target <= 40


def test_overfill_drops_new_frames_while_the_queue_spans_the_maximum() -> None:
    jb: JitterBuffer[object] = JitterBuffer()
    accepted = [jb.put(k, 20 * (k + 1), START + 20 * k, 20) for k in range(100)]
    assert accepted == [True] * 51 + [False] * 49  # timestamps 20…1020 span 1000 ms
    stats = jb.stats()
    assert (len(jb), stats.frames_cur, stats.frames_in, stats.frames_dropped) == (51, 51, 51, 49)
    unlimited: JitterBuffer[object] = JitterBuffer(JitterBufferSettings(maxjitterbuffer=0))
    assert all(unlimited.put(k, 20 * (k + 1), START + 20 * k, 20) for k in range(100))


def test_target_is_clamped_to_the_maximum() -> None:
    rng = random.Random(3)
    jitter = [rng.randint(0, 600) for _ in range(300)]
    jb: JitterBuffer[object] = JitterBuffer(JitterBufferSettings(maxjitterbuffer=200))
    run = simulate(stream(300, jitter=jitter), jb=jb, until=START + 20 * 300)
    stats = run.jb.stats()
    assert stats.jitter > 200 and stats.target - stats.min == 200
    assert ok_in_order(run)


def test_comfort_noise_frame_starts_silence_and_voice_resumes_at_target() -> None:
    arrivals = [*stream(20), Arrival(START + 400, 420, "cng", ms=0, voice=False, silence=True)]
    arrivals += stream(20, first=40)
    run = simulate(arrivals, until=START + 20 * 59 + 41)
    words = run.timeline()
    assert words[words.index("19") + 1] == "cng"
    assert "interp" not in words  # silence is not loss
    assert run.when(40) - (START + 800) == 40
    assert run.jb.stats().frames_lost == 0


# -- the caller's side --------------------------------------------------------------------------


def test_deadlines_and_empty() -> None:
    jb: JitterBuffer[object] = JitterBuffer()
    assert jb.next_deadline_ms() is None and jb.get(START).kind is JbResult.EMPTY
    assert jb.put("a", 20, START, 20)
    assert jb.next_deadline_ms() == START + 40
    assert jb.get(START + 39) == JitterOutput(JbResult.EMPTY, None, 0)
    assert jb.get(START + 40) == JitterOutput(JbResult.OK, "a", 20)
    assert jb.next_deadline_ms() == START + 60
    # Nothing came: conceal, ten times, then wait in silence with no deadline.
    results = [jb.get(START + 60 + 20 * i).kind for i in range(10)]
    assert results == [JbResult.INTERP] * 10
    assert jb.next_deadline_ms() is None


def test_noframe_pushes_the_deadline_at_least_a_millisecond() -> None:
    jb: JitterBuffer[object] = JitterBuffer()
    run = simulate(stream(10) + stream(5, first=100), jb=jb, until=START + 20 * 105 + 100)
    noframes = [t for t, o in run.out if o.kind is JbResult.NOFRAME]
    assert len(noframes) == len(set(noframes))  # never twice in one millisecond


def test_reset_returns_queued_frames_and_starts_over() -> None:
    jb: JitterBuffer[object] = JitterBuffer(JitterBufferSettings(jittertargetextra=60))
    for k in range(5):
        jb.put(k, 20 * (k + 1), START + 20 * k, 20)
    assert jb.reset() == [0, 1, 2, 3, 4]
    assert len(jb) == 0 and jb.next_deadline_ms() is None
    assert jb.stats() == JbStats(0, 0, 60, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    jb.put("x", 5000, START + 90_000, 20)  # a new time origin
    assert jb.next_deadline_ms() == START + 90_060


def test_bad_interpolation_length_is_refused() -> None:
    with pytest.raises(ValueError):
        JitterBuffer(interp_ms=0)


def test_stats_map_onto_the_iax2_reception_report() -> None:
    fields = JitterBuffer().stats().reception_report_fields()
    assert set(fields) == {f.name for f in dataclasses.fields(ReceptionReport)}
    assert fields["packets"] == 1  # construct_rr never reports 0 packets
    run = simulate([a for a in stream(200, jitter=[(k * 37) % 50 for k in range(200)])
                    if a.k % 20 != 3], until=START + 20 * 199 + 41)
    stats = run.jb.stats()
    report = ReceptionReport(**stats.reception_report_fields())
    assert ReceptionReport.from_ies(report.ies()) == report
    assert (report.jitter, report.delay, report.loss_count, report.loss_pct) == (
        stats.jitter, stats.current - stats.min, stats.frames_lost, stats.loss_pct_x1000 // 1000
    )
    assert (report.packets, report.dropped, report.ooo) == (
        stats.frames_in, stats.frames_dropped, stats.frames_ooo
    )
    negative = dataclasses.replace(stats, frames_lost=-1).reception_report_fields()
    assert negative["loss_count"] == 0xFFFFFF


# -- properties ---------------------------------------------------------------------------------


@settings(deadline=None, max_examples=150)
@given(
    st.lists(st.tuples(st.integers(0, 900), st.booleans()), min_size=1, max_size=120),
    st.integers(0, 60),
)
def test_any_arrival_order_plays_voice_in_order(frames: list[tuple[int, bool]], extra: int) -> None:
    arrivals = [
        Arrival(START + 20 * k + delay, 20 * (k + 1), k)
        for k, (delay, lost) in enumerate(frames)
        if not lost
    ]
    jb: JitterBuffer[object] = JitterBuffer(JitterBufferSettings(jittertargetextra=extra))
    run = simulate(arrivals, jb=jb)
    assert ok_in_order(run)
    released = run.items(JbResult.OK) + run.items(JbResult.DROP)
    assert Counter(released + run.jb.reset()) == Counter(run.accepted)


@dataclass(frozen=True)
class Op:
    put: bool  # else get
    step: int  # ms the clock moves first
    ts: int = 0
    length: int = 0
    kind: str = "voice"


_OPS = st.lists(
    st.one_of(
        st.builds(
            Op, st.just(True), st.integers(0, 3000), st.integers(-(2**31), 2**32),
            st.integers(0, 200), st.sampled_from(["voice", "control", "silence"]),
        ),
        st.builds(Op, st.just(False), st.integers(0, 3000)),
    ),
    max_size=200,
)


@settings(deadline=None, max_examples=200)
@given(
    _OPS,
    st.integers(-1, 1500),
    st.integers(0, 15),
    st.integers(-1, 200),
    st.integers(1, 60),
)
def test_any_input_is_handled_without_crash(
    ops: list[Op], resync: int, interps: int, extra: int, interp_ms: int
) -> None:
    settings_ = JitterBufferSettings(
        maxjitterbuffer=1000, resyncthreshold=resync, maxjitterinterps=interps,
        jittertargetextra=extra,
    )
    jb: JitterBuffer[object] = JitterBuffer(settings_, interp_ms=interp_ms)
    now = START
    released: list[object] = []
    accepted: list[object] = []
    for n, op in enumerate(ops):
        now += op.step
        if op.put:
            voice, silence = op.kind == "voice", op.kind == "silence"
            if jb.put(n, op.ts, now, op.length, voice=voice, silence=silence):
                accepted.append(n)
        else:
            for _ in range(10_000):
                result = jb.get(now)
                if result.kind is JbResult.EMPTY:
                    break
                if result.kind in (JbResult.OK, JbResult.DROP):
                    released.append(result.item)
            else:
                raise AssertionError("get() never settles")
        assert jb.stats().frames_cur == len(jb)
    # Every accepted frame leaves exactly once, or is still queued.
    assert Counter(released + jb.reset()) == Counter(accepted)
