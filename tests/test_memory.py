"""pacing/memory.py: what a folder remembers of the server's throttling between runs."""

from __future__ import annotations

import math

import pytest

from aura_async.pacing.memory import RATE_KEY, Learned, recall, remember


class TestRecall:
    @pytest.mark.parametrize(
        ("stored", "learned"),
        [
            (None, None),
            (True, None),
            (-3.0, None),
            (math.inf, None),
            ("20", None),
            ({}, None),
            (20.0, Learned(rate=20.0)),  # what an older version stored
            ({"rate": 19.6}, Learned(rate=19.6)),
            ({"cap": 25.0, "rate": 19.6}, Learned(rate=19.6, cap=25.0)),
            ({"quota": 100, "window": 10.0}, Learned(quota=100, window=10.0)),
            ({"quota": 0.5, "rate": "x"}, None),
        ],
    )
    def test_table(self, stored: object, learned: Learned | None) -> None:
        """Anything unusable is nothing; a bare number is a rate."""
        assert recall(stored) == learned


class TestRemember:
    @pytest.mark.parametrize(
        ("stored", "learned", "ceiling", "expected"),
        [
            # a throttled run keeps what it measured
            (None, Learned(rate=19.6, throttled=True), 25.0, {"rate": 19.6}),
            # ...and a rate it punished, and a window
            (
                None,
                Learned(rate=19.6, cap=25.0, throttled=True),
                25.0,
                {"rate": 19.6, "cap": 25.0},
            ),
            (
                None,
                Learned(quota=100, window=10.0, throttled=True),
                25.0,
                {"window": 10.0, "quota": 100},
            ),
            # throttled but nothing measured: the stored rate stays
            ({"rate": 18.0}, Learned(throttled=True), 25.0, {"rate": 18.0}),
            # a quiet night relaxes by a quarter...
            ({"rate": 16.0, "cap": 18.0}, Learned(), 25.0, {"rate": 20.0, "cap": 22.5}),
            # ...and forgets what reaches the ceiling
            ({"rate": 20.0, "cap": 24.0}, Learned(), 25.0, None),
            (20.0, Learned(), 25.0, None),
            # with no ceiling, a relaxed rate stays until the server throttles again
            ({"rate": 20.0}, Learned(), math.inf, {"rate": 25.0}),
            # nothing known, nothing learned
            (None, Learned(), 25.0, None),
        ],
    )
    def test_table(
        self, stored: object, learned: Learned, ceiling: float, expected: object
    ) -> None:
        """What a run stores for the next, from what the folder held and what it learned."""
        assert remember(stored, learned, ceiling=ceiling) == expected


def test_the_state_key_never_changes() -> None:
    """Folders of earlier runs keep the rate under this key: renaming it forgets them."""
    assert RATE_KEY == "learned_rate"
