"""The phone boxes' alarm and self-test state, for Prometheus (read at each scrape).

A monitoring system alerts on ``pbxedge_phonebox_alarm_pending == 1`` (a passenger is
waiting for a person), on ``pbxedge_phonebox_selftest_passed == 0`` or on a
``pbxedge_phonebox_selftest_timestamp_seconds`` older than the test interval (a box whose
speaker or microphone no longer proves itself), and on ``pbxedge_phonebox_device_up == 0``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pbxedge.phonebox.box import PhoneBox
from pbxedge.store import StoreError

__all__ = ["PhoneBoxCollector"]


class PhoneBoxCollector(Collector):
    def __init__(self, boxes: Mapping[str, PhoneBox]) -> None:
        self._boxes = boxes

    def collect(self) -> Iterable[Metric]:
        labels = ["box"]
        pending = GaugeMetricFamily("pbxedge_phonebox_alarm_pending",
                                    "1 while an alarm waits for a person to acknowledge it.",
                                    labels=labels)
        calls = GaugeMetricFamily("pbxedge_phonebox_alarm_calls",
                                  "Calls made for the alarm in progress (0 without one).",
                                  labels=labels)
        passed = GaugeMetricFamily("pbxedge_phonebox_selftest_passed",
                                   "1 when the last self test passed, 0 when it failed.",
                                   labels=labels)
        tested = GaugeMetricFamily("pbxedge_phonebox_selftest_timestamp_seconds",
                                   "Unix time of the last self test.", labels=labels)
        device = GaugeMetricFamily("pbxedge_phonebox_device_up",
                                   "1 while the box's sound device is open.", labels=labels)
        for box in self._boxes.values():
            name = [box.name]
            alarm = box.alarm if box.alarm is not None and not box.alarm.done.is_set() else None
            pending.add_metric(name, int(alarm is not None and alarm.state == "pending"))
            calls.add_metric(name, alarm.attempts if alarm is not None else 0)
            device.add_metric(name, int(box.parts.phone.failure is None))
            try:
                last = box.parts.store.last_box_test(box.name)
            except StoreError:
                last = None
            if last is not None:
                passed.add_metric(name, int(last.passed))
                tested.add_metric(name, last.at)
        return [pending, calls, passed, tested, device]
