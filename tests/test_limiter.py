"""The shared token bucket and its AIMD rate, driven by a fake clock (nothing sleeps)."""

from __future__ import annotations

import asyncio
import math

import pytest

from aura_async.pacing.limiter import AdaptiveLimiter


class FakeTime:
    """A clock that only moves when the limiter sleeps or the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def limiter(fake: FakeTime, rate: float | None, **kwargs: float) -> AdaptiveLimiter:
    return AdaptiveLimiter(rate, clock=fake.clock, sleep=fake.sleep, **kwargs)  # type: ignore[arg-type]


class TestBucket:
    async def test_spaces_requests_at_the_rate(self, fake: FakeTime) -> None:
        """At 10/s, 11 acquisitions take one second of (fake) time."""
        lim = limiter(fake, 10.0)
        start = fake.now
        for _ in range(11):
            await lim.acquire()
        assert fake.now - start == pytest.approx(1.0)
        assert lim.waited == pytest.approx(1.0)

    async def test_no_ceiling_never_waits(self, fake: FakeTime) -> None:
        """Without a rate, acquisitions never wait."""
        lim = limiter(fake, None)
        for _ in range(100):
            await lim.acquire()
        assert fake.sleeps == []
        assert math.isinf(lim.rate)

    async def test_idle_time_does_not_bank_a_burst(self, fake: FakeTime) -> None:
        """After a long idle, only one request goes at once: the bucket holds one token."""
        lim = limiter(fake, 4.0)
        await lim.acquire()
        fake.now += 60
        await lim.acquire()
        await lim.acquire()
        assert fake.sleeps == [pytest.approx(0.25)]

    async def test_shared_by_concurrent_workers(self, fake: FakeTime) -> None:
        """Eight workers share one bucket: twenty starts take two seconds at 10/s."""
        lim = limiter(fake, 10.0)
        start = fake.now
        await asyncio.gather(*(lim.acquire() for _ in range(21)))
        assert fake.now - start == pytest.approx(2.0)


class TestAimd:
    async def test_throttle_halves_once_per_episode(self, fake: FakeTime) -> None:
        """A burst of 429s from one episode halves the rate once."""
        lim = limiter(fake, 20.0)
        assert lim.on_throttle() is True
        assert lim.on_throttle() is False
        assert lim.rate == 10.0
        fake.now += 5
        assert lim.on_throttle() is True
        assert lim.rate == 5.0

    def test_floor(self, fake: FakeTime) -> None:
        """The rate never drops below the floor."""
        lim = limiter(fake, 1.0, floor=0.4)
        for _ in range(5):
            fake.now += 10
            lim.on_throttle()
        assert lim.rate == 0.4

    async def test_retry_after_pauses_everyone(self, fake: FakeTime) -> None:
        """While a Retry-After is pending no request starts."""
        lim = limiter(fake, 100.0)
        lim.on_throttle(retry_after=3.0)
        assert lim.paused_for == pytest.approx(3.0)
        start = fake.now
        await lim.acquire()
        assert fake.now - start >= 3.0

    def test_early_throttle_recovers_to_80_percent(self, fake: FakeTime) -> None:
        """Early in a run, the rate halves, climbs fast to 80% of the refused rate, then probes."""
        lim = limiter(fake, 25.0, window=10)
        for _ in range(10):
            fake.now += 0.05
            lim.on_success()
        lim.on_throttle()
        assert lim.rate == 12.5
        assert lim.learned_rate == pytest.approx(20.0)
        rates = []
        for _ in range(400):
            fake.now += 0.05
            lim.on_success()
            rates.append(lim.rate)
        assert rates[4] > 12.5  # a step after half a window
        assert next(i for i, r in enumerate(rates) if r >= 19.5) < 40
        assert rates[-1] <= 20.0 + 400 / 20 * 0.1 + 1e-9  # then 0.5% every two windows
        assert rates[-1] > 20.0

    def test_steady_history_measures_the_limit(self, fake: FakeTime) -> None:
        """With seconds of history, the target is 97% of what the server served."""
        lim = limiter(fake, 40.0)
        for _ in range(100):  # the server served 20/s for five seconds
            fake.now += 0.05
            lim.on_success()
        lim.on_throttle()
        assert lim.learned_rate == pytest.approx(0.97 * 20, rel=0.03)
        assert lim.rate == lim.learned_rate  # halving would restart above the limit

    def test_never_above_the_ceiling(self, fake: FakeTime) -> None:
        """Successes never raise the rate above --rate."""
        lim = limiter(fake, 5.0, window=1)
        fake.now += 10
        lim.on_throttle()
        for _ in range(1000):
            fake.now += 0.01
            lim.on_success()
        assert lim.rate == 5.0

    def test_start_rate(self, fake: FakeTime) -> None:
        """A learned start rate is used, clamped to the ceiling and floor."""
        assert limiter(fake, 10.0, start_rate=3.0).rate == 3.0
        assert limiter(fake, 10.0, start_rate=30.0).rate == 10.0
        assert limiter(fake, None, start_rate=3.0).rate == 3.0

    def test_unlimited_learns_a_rate_on_throttle(self, fake: FakeTime) -> None:
        """With no ceiling, the first throttle starts spacing requests at half the goodput."""
        lim = limiter(fake, None)
        for _ in range(20):
            fake.now += 0.1
            lim.on_success()
        lim.on_throttle()
        assert lim.rate == pytest.approx(5.0)
