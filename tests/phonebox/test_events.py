"""Phone box events reach every subscriber, whatever another one does."""

from __future__ import annotations

from pbxedge.phonebox.events import BoxEvent, BoxEvents


def test_a_failing_subscriber_stops_nobody() -> None:
    events = BoxEvents()
    seen: list[str] = []

    def broken(event: BoxEvent) -> None:
        raise RuntimeError("subscriber bug")

    events.subscribe(broken)
    stop = events.subscribe(lambda e: seen.append(e.name))
    events.emit(BoxEvent("AlarmStarted", "lift"))
    stop()
    events.emit(BoxEvent("AlarmGivenUp", "lift"))
    assert seen == ["AlarmStarted"]
