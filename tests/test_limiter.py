"""The shared token bucket and its AIMD rate, driven by a fake clock (nothing sleeps)."""

from __future__ import annotations

import asyncio
import math

import pytest

from aura_async.limiter import AdaptiveLimiter


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

    def test_recovers_towards_the_goodput(self, fake: FakeTime) -> None:
        """After halving, windows of successes climb fast back near the served rate, then probe."""
        lim = limiter(fake, 40.0, window=10)
        for _ in range(40):  # the server served 20/s
            fake.now += 0.05
            lim.on_success()
        lim.on_throttle()
        assert lim.rate == 20.0  # halved from the ceiling of 40
        rates = []
        for _ in range(200):
            fake.now += 0.05
            lim.on_success()
            rates.append(lim.rate)
        assert rates[10] > 20.0  # additive increase after one window
        assert max(rates[:60]) < 40.0
        assert rates[-1] <= 40.0
        climbed = next(i for i, r in enumerate(rates) if r >= 0.9 * 20.0 * 0.95 + 1)
        assert climbed < 60

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
