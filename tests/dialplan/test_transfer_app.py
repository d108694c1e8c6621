"""Transfer() and a Dial whose far end blind-transferred the caller."""

from __future__ import annotations

import pytest

from dialplan.dialer import DialResult, DialStatus
from tests.dialplan.fakes import FakeChannel
from tests.dialplan.test_engine import apps, run


class TransferableChannel(FakeChannel):
    """A fake IAX2 leg that records what it was asked to transfer to."""

    technology = "IAX2"

    def __init__(self, *, works: bool = True) -> None:
        super().__init__()
        self.transfers: list[str] = []
        self.works = works

    async def transfer(self, destination: str) -> bool:
        self.transfers.append(destination)
        return self.works


PLAN = """
[c]
exten => s,1,Transfer(${DEST})
 same => n,NoOp(${TRANSFERSTATUS}/${TRANSFERSTATUSPROTOCOL})
"""


@pytest.mark.parametrize(
    ("dest", "channel", "status", "asked"),
    [
        ("200", TransferableChannel(), "SUCCESS", ["200"]),
        ("IAX2/200@other", TransferableChannel(), "SUCCESS", ["200@other"]),
        ("iax2/300", TransferableChannel(), "SUCCESS", ["300"]),
        ("SIP/200", TransferableChannel(), "FAILURE", []),  # not this channel's technology
        ("", TransferableChannel(), "FAILURE", []),
        ("200", TransferableChannel(works=False), "FAILURE", ["200"]),
        ("200", FakeChannel(), "UNSUPPORTED", []),
    ],
)
async def test_transfer_sets_transferstatus(dest: str, channel: FakeChannel, status: str,
                                            asked: list[str]) -> None:
    channel.variables["DEST"] = dest
    outcome, _ = await run(PLAN, channel=channel)
    assert apps(outcome)[1] == f"NoOp({status}/0)"
    assert getattr(channel, "transfers", []) == asked


class RedirectingDialer:
    async def dial(self, channel: object, targets: list[str], timeout: float | None,
                   options: str) -> DialResult:
        return DialResult(DialStatus.ANSWER, 16, redirect=("c", "700"))


async def test_a_dial_blind_transferred_by_the_far_end_goes_on_at_the_target() -> None:
    plan = """
[c]
exten => s,1,Dial(IAX2/far/100)
 same => n,NoOp(not here)
exten => 700,1,NoOp(landed ${DIALSTATUS})
"""
    outcome, _ = await run(plan, dialer=RedirectingDialer())  # type: ignore[arg-type]
    assert apps(outcome) == ["Dial(IAX2/far/100)", "NoOp(landed ANSWER)"]
