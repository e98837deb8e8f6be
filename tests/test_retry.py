"""The retry policy: Retry-After parsing, waits and stops (what is retryable: test_exceptions)."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from aura_async.exceptions import NotFound, RateLimited, ServerError, TransportError
from aura_async.pacing.retry import (
    MAX_RETRY_AFTER,
    RetryPolicy,
    call,
    parse_retry_after,
    whole_seconds,
)

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("0", 0.0),
        (" 12 ", 12.0),
        ("1.5", 1.5),
        ("-3", None),
        ("nan", None),
        ("soon", None),
        ("", None),
        (None, None),
        (formatdate(NOW + 30, usegmt=True), 30.0),
        (formatdate(NOW - 30, usegmt=True), 0.0),
        ("99999999", MAX_RETRY_AFTER),
        ("Wed, 21 Oct 2015 07:28:00", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    """Seconds and HTTP dates parse (RFC 9110 10.2.3); garbage and negatives do not."""
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "whole"),
    [
        ("1", True),
        (" 120 ", True),
        (formatdate(NOW + 1, usegmt=True), True),
        ("0.05", False),
        ("1.000", False),
        ("soon", False),
        (None, False),
    ],
)
def test_whole_seconds(value: str | None, whole: bool) -> None:
    """Delay-seconds and HTTP dates can only say whole seconds (a wait perhaps rounded
    up); a decimal says the wait itself; no header says nothing."""
    assert whole_seconds(value) is whole


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


async def run_failing(errors: list[BaseException], policy: RetryPolicy, sleeps: Sleeps) -> int:
    """Call an attempt that raises ``errors`` one by one, then returns its call count."""
    calls = 0

    async def attempt() -> int:
        nonlocal calls
        calls += 1
        if errors:
            raise errors.pop(0)
        return calls

    return await call(policy, attempt, sleep=sleeps)


async def test_first_success_does_not_wait() -> None:
    """An attempt that succeeds at once is called once, with no wait."""
    sleeps = Sleeps()
    assert await run_failing([], RetryPolicy(), sleeps) == 1
    assert sleeps.waits == []


async def test_first_failure_counts_as_attempt_one() -> None:
    """The first failure, taken outside tenacity, still counts: three attempts in all make
    three calls and two waits, the first of them the server's Retry-After."""
    sleeps = Sleeps()
    errors: list[BaseException] = [RateLimited("x", retry_after=7.0)]
    errors += [TransportError(f"t{i}") for i in range(1, 5)]
    with pytest.raises(TransportError, match="t2"):
        await run_failing(errors, RetryPolicy(attempts=3), sleeps)
    assert len(sleeps.waits) == 2
    assert sleeps.waits[0] == 7.0


async def test_single_attempt_policy_never_waits() -> None:
    """``attempts=1`` raises the first retryable error as itself, without a wait."""
    sleeps = Sleeps()
    with pytest.raises(ServerError):
        await run_failing([ServerError("x")], RetryPolicy(attempts=1), sleeps)
    assert sleeps.waits == []


async def test_retry_after_is_waited_exactly() -> None:
    """A 429 with Retry-After waits exactly that long, then tries again."""
    sleeps = Sleeps()
    calls = await run_failing([RateLimited("x", retry_after=4.0)], RetryPolicy(), sleeps)
    assert (calls, sleeps.waits) == (2, [4.0])


async def test_jitter_is_capped() -> None:
    """Without Retry-After, waits are random-exponential and capped."""
    sleeps = Sleeps()
    errors: list[BaseException] = [ServerError("x") for _ in range(7)]
    await run_failing(errors, RetryPolicy(attempts=8, backoff=1.0, backoff_max=5.0), sleeps)
    assert len(sleeps.waits) == 7
    assert all(0 <= w <= 5.0 for w in sleeps.waits)


async def test_gives_up_with_the_last_error() -> None:
    """After the attempts, the last error itself is raised (never tenacity's RetryError)."""
    sleeps = Sleeps()
    errors: list[BaseException] = [TransportError(f"t{i}") for i in range(5)]
    with pytest.raises(TransportError, match="t2"):
        await run_failing(errors, RetryPolicy(attempts=3), sleeps)


async def test_not_retryable_raises_at_once() -> None:
    """A 404 is raised on the first attempt."""
    sleeps = Sleeps()
    with pytest.raises(NotFound):
        await run_failing([NotFound("x")], RetryPolicy(), sleeps)
    assert sleeps.waits == []
