"""The node's process-wide set-up."""

from __future__ import annotations

import gc

from pbxedge.node import GC_THRESHOLDS, tune_collector


def test_tuning_the_collector_freezes_what_lives_and_lets_short_lived_objects_go_uncollected():
    saved = gc.get_threshold()
    gc.unfreeze()
    try:
        tune_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > saved[0]
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)
