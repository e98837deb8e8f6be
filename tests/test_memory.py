"""pacing/memory.py: what a folder remembers of the server's throttling between runs."""

from __future__ import annotations

import math

import pytest

from aura_async.pacing.memory import RATE_KEY, RELAX, next_stored_rate, stored_rate

INF = math.inf


@pytest.mark.parametrize(
    ("value", "rate"),
    [
        (4.0, 4.0),
        (3, 3.0),
        (0.25, 0.25),
        (0, None),
        (0.0, None),
        (-2.0, None),
        (math.inf, None),
        (math.nan, None),
        (True, None),
        (False, None),
        ("4.0", None),
        (None, None),
        ([4.0], None),
    ],
)
def test_stored_rate(value: object, rate: float | None) -> None:
    """Only a positive finite number is a rate; anything else stored is nothing usable."""
    result = stored_rate(value)
    assert result == rate
    if rate is not None:
        assert type(result) is float


@pytest.mark.parametrize(
    ("stored", "throttled", "learned", "ceiling", "expected"),
    [
        # a throttled run stores what the server allowed, rounded, whatever was there
        (None, True, 3.14159, INF, 3.142),
        (10.0, True, 2.0, 25.0, 2.0),
        ("junk", True, 7.0, 25.0, 7.0),
        # throttled but nothing learned: as a quiet run
        (None, True, None, 25.0, None),
        (4.0, True, None, 25.0, 4.0 * RELAX),
        (4.0, True, 0.0, 25.0, 4.0 * RELAX),
        # a quiet run relaxes the stored rate by a quarter
        (4.0, False, None, 25.0, 5.0),
        (4.0, False, 9.0, 25.0, 5.0),
        (4.0, False, None, INF, 5.0),
        # until it reaches the ceiling: then it is forgotten
        (20.0, False, None, 25.0, None),  # 25.0: exactly the ceiling
        (19.0, False, None, 25.0, 23.75),
        (20.1, False, None, 25.0, None),
        # nothing stored, or nothing usable, stays nothing
        (None, False, None, 25.0, None),
        (-1.0, False, None, 25.0, None),
        (True, False, None, 25.0, None),
    ],
)
def test_next_stored_rate(
    stored: object, throttled: bool, learned: float | None, ceiling: float, expected: float | None
) -> None:
    """Throttled: keep the learned rate; quiet: relax by RELAX, forget at the ceiling."""
    assert next_stored_rate(stored, throttled=throttled, learned=learned, ceiling=ceiling) == (
        pytest.approx(expected) if expected is not None else None
    )


def test_relaxing_reaches_the_ceiling_then_forgets() -> None:
    """Night after night of quiet runs, the stored rate grows to the ceiling, then goes."""
    stored: float | None = 2.0
    nights = []
    while stored is not None:
        nights.append(stored)
        stored = next_stored_rate(stored, throttled=False, learned=None, ceiling=25.0)
    assert nights == pytest.approx([2.0 * RELAX**night for night in range(12)])
    assert 25.0 / RELAX < nights[-1] < 25.0


def test_the_state_key_never_changes() -> None:
    """Folders of earlier runs keep the rate under this key: renaming it forgets them."""
    assert RATE_KEY == "learned_rate"
