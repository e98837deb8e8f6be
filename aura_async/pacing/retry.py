"""The retry policy: what is worth another attempt, and how long to wait first.

One tenacity policy serves every request (:func:`call`). Throttling (429/503), other 5xx,
resets, timeouts and truncated bodies are retried; waits honour ``Retry-After`` (RFC 9110
section 10.2.3) and otherwise back off exponentially with full jitter, because several
workers share one server and synchronised retries would arrive together. Everything else
(404, 475, bad payloads) fails at once. ``sleep`` is injected so tests never wait.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from aura_async.exceptions import RateLimited, is_retryable

__all__ = ["RetryPolicy", "call", "parse_retry_after", "whole_seconds"]

T = TypeVar("T")

MAX_RETRY_AFTER = 3600.0
"""A Retry-After longer than this is treated as this: a nightly run should not sleep a day."""


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header.

    Args:
        value: the header: delay-seconds or an HTTP date (RFC 9110 section 10.2.3).
        now: the current time as a Unix timestamp, for dates.

    Returns:
        The wait in seconds (0 for dates in the past), capped at :data:`MAX_RETRY_AFTER`;
        ``None`` for a missing or unparseable header, or a negative number.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER)
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:  # not RFC-conformant, but some servers send fractions
        return min(seconds, MAX_RETRY_AFTER) if math.isfinite(seconds) and seconds >= 0 else None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return min(max(0.0, moment.timestamp() - now), MAX_RETRY_AFTER)


def whole_seconds(value: str | None) -> bool:
    """Whether a ``Retry-After`` header can only say whole seconds: delay-seconds, or an
    HTTP date (a wait it gives may be up to a second longer than the server needs: a
    bucket's twentieth of a second, rounded up). A decimal number says the wait itself.
    """
    if value is None:
        return False
    text = value.strip()
    if text.isdigit():
        return True
    try:
        float(text)
    except ValueError:
        return parse_retry_after(text, 0.0) is not None  # an HTTP date
    return False


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one request.

    Attributes:
        attempts: total attempts, the first included.
        budget: seconds after the first failure after which no new attempt starts (a long
            first attempt, such as a big video cut short, is not counted).
        backoff: base of the random-exponential wait, in seconds.
        backoff_max: cap of one wait without Retry-After.
    """

    attempts: int = 8
    budget: float = 900.0
    backoff: float = 0.5
    backoff_max: float = 30.0


class _Wait:
    """Exactly ``Retry-After`` when the server gave one, else random-exponential backoff."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._jitter = wait_random_exponential(multiplier=policy.backoff, max=policy.backoff_max)

    def __call__(self, state: RetryCallState) -> float:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._jitter(state))


async def call(
    policy: RetryPolicy,
    attempt: Callable[[], Awaitable[T]],
    *,
    sleep: Callable[[float], Awaitable[Any]],
) -> T:
    """Await ``attempt()`` until it succeeds or ``policy`` gives up; the last error is raised
    as itself (never tenacity's ``RetryError``).

    The first attempt runs outside tenacity: nearly every request succeeds at once, and
    leaving tenacity's per-call bookkeeping out took 7 % off a 1,000-photo download's CPU
    (benchmarks/peers.py). A retryable first failure is replayed to tenacity as its
    attempt 1, so the waits and the number of attempts are the same as if tenacity had run
    it; only ``policy.budget`` counts from that first failure, not from the first attempt.
    """
    try:
        return await attempt()
    except BaseException as exc:
        if not is_retryable(exc) or policy.attempts <= 1:
            raise
        first: BaseException | None = exc

    async def replay_then_attempt() -> T:
        nonlocal first
        if first is not None:
            failure, first = first, None
            raise failure
        return await attempt()

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.budget),
        wait=_Wait(policy),
        retry=retry_if_exception(is_retryable),
        sleep=sleep,
        reraise=True,
    )
    return await retrying(replay_then_attempt)
