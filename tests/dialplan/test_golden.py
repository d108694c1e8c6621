"""Golden routing table for configs/extensions.conf.

Each case is (context, number, caller ID) → (the extension the lookup matches, the
applications run in order, how the call ends, what was dialled).  The defaults model a
Wednesday at 10:00 with phones 100, 101, 102 and 110 registered; 101 is busy, 102 answers,
100 and 110 do not answer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dialplan.channel import Feature
from dialplan.dialer import DialStatus
from dialplan.engine import Engine
from dialplan.loader import load_dialplan
from tests.dialplan.fakes import FakeChannel, FakeDialer

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "extensions.conf"
WEDNESDAY_10 = dt.datetime(2026, 11, 25, 10, 0)

# The subroutine [sub-ring-phone] as seen in a path.
RING_UNREG = "NoOp GotoIf Set Return"  # phone not registered
RING_DIAL = "NoOp GotoIf Dial Return"  # rang, nobody took it
RING_ANSWER = "NoOp GotoIf Dial"  # answered: the call ends inside the subroutine
H = "NoOp"  # the h extension of [from-internal]
RECEPTION = f"NoOp Gosub {RING_DIAL} GotoIf Gosub {RING_DIAL} Hangup"  # 100 then 101 busy
OPEN = f"NoOp ExecIf Goto {RECEPTION} {H}"  # [public-open] to reception

DIAL_RESULTS = {
    "IAX2/100": DialStatus.NOANSWER,
    "IAX2/101": DialStatus.BUSY,
    "IAX2/102": DialStatus.ANSWER,
    "IAX2/110": DialStatus.NOANSWER,
    "IAX2/trunk-b/5551234": DialStatus.ANSWER,
    "IAX2/trunk-b/5559999": DialStatus.BUSY,
    "IAX2/trunk-b/5550000": DialStatus.CONGESTION,
    "IAX2/trunk-b/5558888": DialStatus.CHANUNAVAIL,
}


@dataclass(frozen=True)
class Case:
    context: str
    number: str
    callerid: str | None
    match: str | None  # "context:extension" of the first lookup, None for no match
    path: str  # applications in order
    outcome: str  # "reason/cause"
    dialled: tuple[str, ...] = ()
    registered: tuple[str, ...] = ("100", "101", "102", "110")
    when: dt.datetime = WEDNESDAY_10
    features: frozenset[Feature] = frozenset()
    globals_: tuple[tuple[str, str], ...] = ()
    played: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    results: dict[str, DialStatus] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.context}:{self.number}/{self.callerid or '-'}"


def c(context: str, number: str, callerid: str | None, match: str | None, path: str, outcome: str,
      *dialled: str, **extra: object) -> Case:
    return Case(context, number, callerid, match, " ".join(path.split()), outcome, dialled, **extra)  # type: ignore[arg-type]


PLAY = frozenset({Feature.PLAY})
SATURDAY_10 = dt.datetime(2026, 11, 28, 10, 0)
SUNDAY_12 = dt.datetime(2026, 11, 29, 12, 0)
FRIDAY = dt.datetime(2026, 11, 27)
MONDAY = dt.datetime(2026, 11, 30)

HAND_CASES = [
    # --- office phones: _1XX from the included [internal-phones] ------------------------
    c("from-internal", "101", "102", "internal-phones:_1XX", f"Gosub {RING_DIAL} GotoIf Busy {H}", "hangup/17", "IAX2/101"),
    c("from-internal", "102", "101", "internal-phones:_1XX", f"Gosub {RING_ANSWER}", "hangup/16", "IAX2/102"),
    c("from-internal", "103", "101", "internal-phones:_1XX", f"Gosub {RING_UNREG} GotoIf GotoIf Congestion {H}", "hangup/34"),
    c("from-internal", "110", "101", "internal-phones:_1XX", f"Gosub {RING_DIAL} GotoIf GotoIf Congestion {H}", "hangup/34", "IAX2/110"),
    c("from-internal", "1-1-0", "101", "internal-phones:_1XX", f"Gosub {RING_DIAL} GotoIf GotoIf Congestion {H}", "hangup/34", "IAX2/1-1-0",
      results={"IAX2/1-1-0": DialStatus.NOANSWER}, registered=("1-1-0",)),
    c("from-internal", "102", None, "internal-phones:_1XX", f"Gosub {RING_ANSWER}", "hangup/16", "IAX2/102"),
    c("from-internal", "110", "101", "internal-phones:_1XX", f"Gosub {RING_UNREG} GotoIf GotoIf Congestion {H}", "hangup/34", registered=()),
    # --- Carol's phone from configs/iax.conf (peer "carol", regexten=2004) ---------------
    c("from-internal", "2004", "2001", "internal-phones:2004", f"Gosub {RING_ANSWER}", "hangup/16", "IAX2/carol",
      registered=("2004",), results={"IAX2/carol": DialStatus.ANSWER}),
    c("from-internal", "2004", "2001", "internal-phones:2004", f"Gosub {RING_DIAL} GotoIf Busy {H}", "hangup/17", "IAX2/carol",
      registered=("2004",), results={"IAX2/carol": DialStatus.BUSY}),
    c("from-internal", "2004", "2001", "internal-phones:2004", f"Gosub {RING_UNREG} GotoIf Congestion {H}", "hangup/34"),
    # --- reception: the literal 100 in [from-internal] beats _1XX from the include -------
    c("from-internal", "100", "101", "from-internal:100", f"{RECEPTION} {H}", "hangup/16", "IAX2/100", "IAX2/101"),
    c("from-internal", "100", "102", "from-internal:100", f"NoOp Gosub {RING_UNREG} GotoIf Gosub {RING_DIAL} Hangup {H}", "hangup/16", "IAX2/101", registered=("101",)),
    c("from-internal", "100", "102", "from-internal:100", f"NoOp Gosub {RING_ANSWER}", "hangup/16", "IAX2/100", results={"IAX2/100": DialStatus.ANSWER}),
    c("from-internal", "100", "102", "from-internal:100", f"NoOp Gosub {RING_UNREG} GotoIf Gosub {RING_UNREG} Hangup {H}", "hangup/16", registered=()),
    c("from-internal", "0", "101", "from-internal:0", f"Goto {RECEPTION} {H}", "hangup/16", "IAX2/100", "IAX2/101"),
    # --- caller-ID matching: 199/100 before 199 -----------------------------------------
    c("from-internal", "199", "100", "internal-phones:199/100", f"Set SendText Hangup {H}", "hangup/16",
      features=frozenset({Feature.TEXT}), texts=("Office is in day mode",)),
    c("from-internal", "199", "100", "internal-phones:199/100", f"Set SendText Hangup {H}", "hangup/16",
      features=frozenset({Feature.TEXT}), texts=("Office is in night mode",), globals_=(("NIGHTMODE", "1"),)),
    c("from-internal", "199", "100", "internal-phones:199/100", f"Set SendText Hangup {H}", "hangup/16"),
    c("from-internal", "199", "101", "internal-phones:199", f"Hangup {H}", "hangup/21"),
    c("from-internal", "199", None, "internal-phones:199", f"Hangup {H}", "hangup/21"),
    c("from-internal", "199", "1-0-0", "internal-phones:199/100", f"Set SendText Hangup {H}", "hangup/16"),
    # --- star codes ----------------------------------------------------------------------
    c("from-internal", "*43", "101", "features:*43", f"Answer Echo {H}", "hangup/16"),
    c("from-internal", "*43", "101", "features:*43", f"Answer Echo {H}", "hangup/16", features=frozenset({Feature.ECHO})),
    c("from-internal", "*65", "101", "features:*65", f"Answer SendText Hangup {H}", "hangup/16",
      features=frozenset({Feature.TEXT}), texts=("Your number is 101",)),
    c("from-internal", "*65", "101", "features:*65", f"Answer SendText Hangup {H}", "hangup/16"),
    c("from-internal", "*80", "100", "features:*80/100", f"Set Hangup {H}", "hangup/16"),
    c("from-internal", "*81", "100", "features:*81/100", f"Set Hangup {H}", "hangup/16"),
    c("from-internal", "*80", "101", "features:_*8[01]", f"Hangup {H}", "hangup/21"),
    c("from-internal", "*81", None, "features:_*8[01]", f"Hangup {H}", "hangup/21"),
    c("from-internal", "*82", "100", None, f"NoOp Congestion {H}", "hangup/34"),
    c("from-internal", "*99", "101", "features:*99", f"Busy {H}", "hangup/17"),
    c("from-internal", "*4", "101", None, f"NoOp Congestion {H}", "hangup/34"),
    # --- outbound ------------------------------------------------------------------------
    c("from-internal", "95551234", "101", "outbound:_9NXXXXXX", f"NoOp Dial {H}", "hangup/16", "IAX2/trunk-b/5551234"),
    c("from-internal", "95559999", "101", "outbound:_9NXXXXXX", f"NoOp Dial Goto Busy {H}", "hangup/17", "IAX2/trunk-b/5559999"),
    c("from-internal", "95550000", "101", "outbound:_9NXXXXXX", f"NoOp Dial Goto Congestion {H}", "hangup/34", "IAX2/trunk-b/5550000"),
    c("from-internal", "95558888", "101", "outbound:_9NXXXXXX", f"NoOp Dial Goto Congestion {H}", "hangup/34", "IAX2/trunk-b/5558888"),
    c("from-internal", "95557777", "101", "outbound:_9NXXXXXX", f"NoOp Dial Goto Hangup {H}", "hangup/19", "IAX2/trunk-b/5557777"),
    # ${EXTEN} keeps the dashes: the trunk is asked for "-555-1234"
    c("from-internal", "9-555-1234", "101", "outbound:_9NXXXXXX", f"NoOp Dial Goto Hangup {H}", "hangup/19", "IAX2/trunk-b/-555-1234"),
    c("from-internal", "914155551234", "101", "outbound:_91NXXNXXXXXX", f"NoOp Dial Goto Hangup {H}", "hangup/19", "IAX2/trunk-b/14155551234"),
    c("from-internal", "914151551234", "101", "outbound:_9X.", f"Dial Goto Hangup {H}", "hangup/19", "IAX2/trunk-b/14151551234"),
    c("from-internal", "9155512345", "101", "outbound:_9X.", f"Dial Goto Hangup {H}", "hangup/19", "IAX2/trunk-b/155512345"),
    c("from-internal", "91555123", "101", "outbound:_9X.", f"Dial Goto Hangup {H}", "hangup/19", "IAX2/trunk-b/1555123"),
    c("from-internal", "9011441234", "101", "outbound:_9011.", f"NoOp Hangup {H}", "hangup/21"),
    c("from-internal", "9011441234", None, "outbound:_9011.", f"NoOp Hangup {H}", "hangup/21"),
    c("from-internal", "9011441234", "100", "outbound:_9011./100", f"Dial Goto Hangup {H}", "hangup/19", "IAX2/trunk-b/011441234"),
    c("from-internal", "9011", "100", "outbound:_9X.", f"Dial Goto Hangup {H}", "hangup/19", "IAX2/trunk-b/011"),
    c("from-internal", "911", "101", "outbound:911", f"Goto Dial Goto Hangup {H}", "hangup/19", "IAX2/trunk-b/911"),
    c("from-internal", "9911", "101", "outbound:9911", f"Dial Goto Hangup {H}", "hangup/19", "IAX2/trunk-b/911"),
    c("from-internal", "911", None, "outbound:911", f"Goto Dial Goto Hangup {H}", "hangup/19", "IAX2/trunk-b/911"),
    c("from-internal", "912", "101", "outbound:_9X.", f"Dial Goto Hangup {H}", "hangup/19", "IAX2/trunk-b/12"),
    c("from-internal", "90", "101", None, f"NoOp Congestion {H}", "hangup/34"),  # '.' needs one more
    c("from-internal", "9", "101", None, f"NoOp Congestion {H}", "hangup/34"),
    c("from-internal", "95551234", "101", "outbound:_9NXXXXXX", f"NoOp Dial Goto Hangup {H}", "hangup/16", "IAX2/trunk-b/5551234",
      results={"IAX2/trunk-b/5551234": DialStatus.CANCEL}),
    c("from-internal", "outcome-BUSY", "101", "outbound:outcome-BUSY", f"Busy {H}", "hangup/17"),
    c("from-internal", "outcomeBUSY", "101", "outbound:outcome-BUSY", f"Busy {H}", "hangup/17"),
    # --- nothing matches: i in [from-internal] -------------------------------------------
    c("from-internal", "1", "101", None, f"NoOp Congestion {H}", "hangup/34"),
    c("from-internal", "10", "101", None, f"NoOp Congestion {H}", "hangup/34"),
    c("from-internal", "1000", "101", None, f"NoOp Congestion {H}", "hangup/34"),
    c("from-internal", "s", "101", None, f"NoOp Congestion {H}", "hangup/34"),
    c("from-internal", "2001", "101", None, f"NoOp Congestion {H}", "hangup/34"),
    c("from-internal", "#", "101", None, f"NoOp Congestion {H}", "hangup/34"),
    c("from-internal", "i", "101", "from-internal:i", f"NoOp Congestion {H}", "hangup/34"),
    c("from-internal", "h", "101", "from-internal:h", f"{H} {H}", "fallthrough/0"),
    # --- calls from the carrier ----------------------------------------------------------
    c("from-trunk", "5551200", "8005551212", "from-trunk:555-1200", f"Goto {OPEN}", "hangup/16", "IAX2/100", "IAX2/101"),
    c("from-trunk", "555-1200", "8005551212", "from-trunk:555-1200", f"Goto {OPEN}", "hangup/16", "IAX2/100", "IAX2/101"),
    c("from-trunk", "5551202", "8005551212", "from-trunk:_55512XX", f"Set GotoIf Gosub {RING_ANSWER}", "hangup/16", "IAX2/102"),
    c("from-trunk", "5551201", "8005551212", "from-trunk:_55512XX", f"Set GotoIf Gosub {RING_DIAL} GotoIf Busy", "hangup/17", "IAX2/101"),
    c("from-trunk", "5551210", "8005551212", "from-trunk:_55512XX", f"Set GotoIf Gosub {RING_DIAL} GotoIf GotoIf Congestion", "hangup/34", "IAX2/110"),
    c("from-trunk", "5551203", "8005551212", "from-trunk:_55512XX", f"Set GotoIf {OPEN}", "hangup/16", "IAX2/100", "IAX2/101"),
    c("from-trunk", "5551299", None, "from-trunk:_55512XX", f"Set GotoIf {OPEN}", "hangup/16", "IAX2/100", "IAX2/101"),
    c("from-trunk", "5551300", "8005551212", None, "Hangup", "hangup/1"),
    c("from-trunk", "555120", "8005551212", None, "Hangup", "hangup/1"),
    c("from-trunk", "55512000", "8005551212", None, "Hangup", "hangup/1"),
    c("from-trunk", "s", "8005551212", "from-trunk:s", f"Goto {OPEN}", "hangup/16", "IAX2/100", "IAX2/101"),
    c("from-trunk", "s", None, "from-trunk:s", f"Goto {OPEN}", "hangup/16", "IAX2/100", "IAX2/101"),
    # --- office hours: include => public-open,08:00-17:59,mon-fri --------------------------
    c("public", "s", "8005551212", "public-open:s", f"{OPEN}", "hangup/16", "IAX2/100", "IAX2/101"),
    c("public", "s", "8005551212", "public-open:s", f"{OPEN}", "hangup/16", "IAX2/100", "IAX2/101", when=WEDNESDAY_10.replace(hour=8, minute=0)),
    c("public", "s", "8005551212", "public-open:s", f"{OPEN}", "hangup/16", "IAX2/100", "IAX2/101", when=WEDNESDAY_10.replace(hour=17, minute=59)),
    c("public", "s", "8005551212", "public-open:s", f"{OPEN}", "hangup/16", "IAX2/100", "IAX2/101", when=FRIDAY.replace(hour=17, minute=30)),
    c("public", "s", "8005551212", "public-open:s", f"{OPEN}", "hangup/16", "IAX2/100", "IAX2/101", when=MONDAY.replace(hour=8, minute=1)),
    c("public", "s", "8005551212", "public-closed:s", "NoOp GotoIfTime Playback Hangup", "hangup/16",
      when=WEDNESDAY_10.replace(hour=18, minute=0), features=PLAY, played=("office-closed-tonight",)),
    c("public", "s", "8005551212", "public-closed:s", "NoOp GotoIfTime Playback Hangup", "hangup/16",
      when=WEDNESDAY_10.replace(hour=7, minute=59), features=PLAY, played=("office-closed-tonight",)),
    c("public", "s", "8005551212", "public-closed:s", "NoOp GotoIfTime Playback Hangup", "hangup/16",
      when=SATURDAY_10, features=PLAY, played=("office-closed-weekend",)),
    c("public", "s", "8005551212", "public-closed:s", "NoOp GotoIfTime Playback Hangup", "hangup/16",
      when=SUNDAY_12, features=PLAY, played=("office-closed-weekend",)),
    c("public", "s", "8005551212", "public-closed:s", "NoOp GotoIfTime Playback", "hangup/16", when=SUNDAY_12),
    c("public", "s", "8005551212", "public-closed:s", "NoOp GotoIfTime Playback", "hangup/16", when=WEDNESDAY_10.replace(hour=23)),
    c("public", "s", "8005551212", "public-open:s", "NoOp ExecIf NoOp GotoIfTime Playback Hangup", "hangup/16",
      features=PLAY, played=("office-closed-tonight",), globals_=(("NIGHTMODE", "1"),)),
    c("public", "100", "8005551212", None, "", "invalid/0"),
    c("public", "s", "8005551212", "public-open:s", f"{OPEN}", "hangup/16", "IAX2/100", "IAX2/101", when=FRIDAY.replace(hour=9)),
    # --- the lift phone --------------------------------------------------------------------
    c("hotline", "s", None, "hotline:s", f"Answer Gosub {RING_DIAL} GotoIf Dial Hangup", "hangup/16", "IAX2/100", "IAX2/trunk-b/5550100"),
    c("hotline", "s", None, "hotline:s", f"Answer Gosub {RING_UNREG} GotoIf Dial Hangup", "hangup/16", "IAX2/trunk-b/5550100", registered=()),
    c("hotline", "s", None, "hotline:s", f"Answer Gosub {RING_ANSWER}", "hangup/16", "IAX2/100", results={"IAX2/100": DialStatus.ANSWER}),
    c("hotline", "s", None, "hotline:s", f"Answer Gosub {RING_DIAL} GotoIf Dial", "hangup/16", "IAX2/100", "IAX2/trunk-b/5550100",
      results={"IAX2/trunk-b/5550100": DialStatus.ANSWER}),
    c("hotline", "s", "5551000", "hotline:s", f"Answer Gosub {RING_DIAL} GotoIf Dial Hangup", "hangup/16", "IAX2/100", "IAX2/trunk-b/5550100"),
    c("hotline", "5", None, None, "", "invalid/0"),
    # --- guests ----------------------------------------------------------------------------
    c("default", "s", None, "default:s", f"Goto {OPEN}", "hangup/16", "IAX2/100", "IAX2/101"),
    c("default", "100", None, "default:100", f"Goto {OPEN}", "hangup/16", "IAX2/100", "IAX2/101"),
    c("default", "101", None, None, "Hangup", "hangup/1"),
    c("default", "95551234", "2001", None, "Hangup", "hangup/1"),
    c("default", "*43", None, None, "Hangup", "hangup/1"),
    # --- contexts that do not exist, and the registration table itself ----------------------
    c("no-such-context", "100", None, None, "", "invalid/0"),
    c("iaxregistrations", "101", None, "iaxregistrations:101", "NoOp", "fallthrough/0"),
    c("iaxregistrations", "103", None, None, "", "invalid/0"),
]

# Every office number that is not special: unregistered, the caller hears congestion.
UNREGISTERED_PHONES = [
    c("from-internal", str(n), "101", "internal-phones:_1XX", f"Gosub {RING_UNREG} GotoIf GotoIf Congestion {H}", "hangup/34")
    for n in range(103, 199) if n != 110
]
# Direct dial-in 555-12XX for the same phones lands on reception (they are not registered).
DIRECT_DIAL_IN = [
    c("from-trunk", f"55512{n:02d}", "8005551212", "from-trunk:_55512XX", f"Set GotoIf {OPEN}", "hangup/16", "IAX2/100", "IAX2/101")
    for n in range(3, 100, 7) if n != 10
]
CASES = HAND_CASES + UNREGISTERED_PHONES + DIRECT_DIAL_IN


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 150


def test_the_office_plan_parses_cleanly() -> None:
    assert load_dialplan(CONFIG).diagnostics == []


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_route(case: Case, autojump_clock: object) -> None:
    plan = load_dialplan(CONFIG)
    plan.clock = lambda: case.when
    for phone in case.registered:
        plan.add_extension("iaxregistrations", phone, 1, "NoOp", f"IAX2/{phone}")
    dialer = FakeDialer(results={**DIAL_RESULTS, **case.results})
    engine = Engine(plan, dialer=dialer)
    plan.globals.update(dict(case.globals_))
    channel = FakeChannel(caller_num=case.callerid, features=set(case.features))

    found = plan.find(case.context, case.number, case.callerid)
    outcome = await engine.start(channel, case.context, case.number)

    assert (f"{found.context}:{found.extension.display_name}" if found else None) == case.match
    assert " ".join(step.app for step in outcome.trace) == case.path
    assert f"{outcome.reason}/{outcome.hangup_cause}" == case.outcome
    assert tuple(target for targets, _, _ in dialer.dialled for target in targets) == case.dialled
    assert tuple(channel.played) == case.played
    assert tuple(channel.texts) == case.texts
    assert channel.is_hungup
