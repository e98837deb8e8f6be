"""The run's limiter, driven by a fake clock (nothing sleeps): spacing, the server's word,
probes, what it learns of buckets, bans and windows, the time lost and the budget."""

from __future__ import annotations

import asyncio
import itertools
import math

import pytest

from aura_async.exceptions import WaitedTooLong
from aura_async.pacing.learner import EARLY_TRY, SLOW_START, SLOW_START_POLL, Learner
from aura_async.pacing.limiter import START_RATE, AdaptiveLimiter, Ticket, human_wait
from aura_async.pacing.memory import Learned
from aura_async.pacing.pace import Pace
from aura_async.pacing.policy import FIRST_CUT, PROBE_FIRST, SAFETY, Window
from aura_async.pacing.quota import SLIDING_MARGIN


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
        await asyncio.sleep(0)


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def limiter(fake: FakeTime, rate: float | None, **kwargs: float) -> AdaptiveLimiter:
    return AdaptiveLimiter(rate, clock=fake.clock, sleep=fake.sleep, **kwargs)


async def serve(lim: AdaptiveLimiter, fake: FakeTime, count: int, every: float = 0.0) -> None:
    """``count`` requests, each served at once, ``every`` seconds apart at least."""
    for _ in range(count):
        ticket = await lim.acquire()
        lim.on_success(ticket)
        fake.now += every


class TestSpacing:
    async def test_spaces_requests_at_the_rate(self, fake: FakeTime) -> None:
        """At 10/s, 11 acquisitions take one second of (fake) time."""
        lim = limiter(fake, 10.0)
        start = fake.now
        for _ in range(11):
            await lim.acquire()
        assert fake.now - start == pytest.approx(1.0)
        assert lim.lost == 0.0  # spacing is not time lost to the server

    async def test_no_ceiling_is_not_spaced_until_throttled(self, fake: FakeTime) -> None:
        """Without a ceiling (--rate 0), requests go as fast as answers come."""
        lim = limiter(fake, None)
        await serve(lim, fake, 100)
        assert fake.sleeps == []
        assert math.isinf(lim.rate)

    async def test_no_ceiling_starts_slowly(self, fake: FakeTime) -> None:
        """Unspaced, one request goes first, then one more than were served is in flight
        (two, then four...): the opening burst is refused by a few, not every worker."""
        lim = limiter(fake, None)
        began = fake.now
        in_flight = [await lim.acquire()]
        for allowed in (2, 4, 8):
            blocked = asyncio.ensure_future(lim.acquire())
            await asyncio.sleep(0)
            assert not blocked.done()  # waits for an answer
            for ticket in in_flight:
                lim.on_success(ticket)
            in_flight = [await blocked] + [await lim.acquire() for _ in range(allowed - 1)]
        assert fake.now - began < SLOW_START / 2  # a look each SLOW_START_POLL at most
        assert all(wait <= SLOW_START_POLL for wait in fake.sleeps)

    async def test_a_slow_first_answer_holds_the_rest_a_second_at_most(
        self, fake: FakeTime
    ) -> None:
        """The first file may be a long video: unanswered, it holds the other workers for
        SLOW_START at most, then they all go."""
        lim = limiter(fake, None)
        began = (await lim.acquire()).start
        second = await lim.acquire()
        assert second.start == pytest.approx(began + SLOW_START)
        for _ in range(6):  # no longer held
            assert (await lim.acquire()).start == second.start

    async def test_idle_time_does_not_bank_a_burst(self, fake: FakeTime) -> None:
        """After a long idle, only one request goes at once: a bucket of one may be behind."""
        lim = limiter(fake, 4.0)
        await lim.acquire()
        fake.now += 60
        await lim.acquire()
        await lim.acquire()
        assert fake.sleeps == [pytest.approx(0.25)]

    async def test_shared_by_concurrent_workers(self, fake: FakeTime) -> None:
        """Workers share one schedule: twenty-one starts take two seconds at 10/s."""
        lim = limiter(fake, 10.0)
        start = fake.now
        await asyncio.gather(*(lim.acquire() for _ in range(21)))
        assert fake.now - start == pytest.approx(2.0)


class TestServersWord:
    async def test_retry_after_holds_every_worker_then_lets_them_go(self, fake: FakeTime) -> None:
        """No request starts before Retry-After ends, and the first starts when it ends."""
        lim = limiter(fake, 100.0)
        ticket = await lim.acquire()
        verdict = lim.on_throttle(ticket, retry_after=3.0)
        assert verdict.told
        assert verdict.new
        assert verdict.wait == pytest.approx(3.0)
        pause_ends = fake.now + 3.0
        starts = await asyncio.gather(*(lim.acquire() for _ in range(8)))
        assert min(t.start for t in starts) == pytest.approx(pause_ends)
        assert lim.lost == pytest.approx(3.0)  # once, however many waited

    async def test_a_rounded_second_is_tried_early_by_one_request(self, fake: FakeTime) -> None:
        """Retry-After: 1 after a bucket's overrun (a refill rounded up to a second): one
        request goes EARLY_TRY later, the others wait for its answer; served, the run goes
        on at its pace without waiting the rest of the second."""
        lim = limiter(fake, 25.0)
        throttled_at = fake.now
        verdict = lim.on_throttle(await lim.acquire(), retry_after=1.0)
        assert verdict.new
        assert verdict.early
        assert verdict.wait == pytest.approx(EARLY_TRY)
        early = await lim.acquire()
        assert early.start == pytest.approx(throttled_at + EARLY_TRY)
        others = [asyncio.ensure_future(lim.acquire()) for _ in range(2)]
        for _ in range(20):
            await asyncio.sleep(0)
        assert not any(task.done() for task in others)  # until the early try's answer
        lim.on_success(early)
        starts = [(await task).start for task in others]
        assert max(starts) < throttled_at + 1.0
        assert min(starts) >= early.start

    async def test_a_refused_early_try_waits_the_rest_and_is_not_tried_again(
        self, fake: FakeTime
    ) -> None:
        """Refused, the early try is the same episode (no second cut), its own Retry-After
        is waited out, and the run waits every later one out too."""
        lim = limiter(fake, 25.0)
        lim.on_throttle(await lim.acquire(), retry_after=1.0)
        rate = lim.rate
        early = await lim.acquire()
        refused_at = fake.now
        verdict = lim.on_throttle(early, retry_after=1.0)
        assert not verdict.new
        assert not verdict.early  # every worker waits the whole second now
        assert lim.rate == rate
        assert (await lim.acquire()).start == pytest.approx(refused_at + 1.0)
        fake.now += 30.0
        again = lim.on_throttle(await lim.acquire(), retry_after=1.0)
        assert again.new
        assert again.wait == pytest.approx(1.0)

    @pytest.mark.parametrize(("retry_after", "whole"), [(0.7, False), (1.0, False), (2.0, True)])
    async def test_other_waits_are_not_tried_early(
        self, fake: FakeTime, retry_after: float, whole: bool
    ) -> None:
        """A wait said in fractions of a second ("0.7", "1.000") is exact, two seconds or
        more are meant: nothing starts before they end."""
        lim = limiter(fake, 25.0)
        throttled_at = fake.now
        verdict = lim.on_throttle(await lim.acquire(), retry_after, whole_seconds=whole)
        assert not verdict.early
        assert (await lim.acquire()).start == pytest.approx(throttled_at + retry_after)

    async def test_an_http_dates_fraction_of_a_second_is_tried_early(self, fake: FakeTime) -> None:
        """An HTTP date says whole seconds: a bucket's refill of a twentieth of a second
        becomes the next whole second on the server's clock, here 0.7 s away. One request
        tries EARLY_TRY later, as after a "Retry-After: 1" (in the sweep over 1,500
        photos, buckets told by dates lost 2-4 s where they lost 4-8 s)."""
        lim = limiter(fake, 25.0)
        throttled_at = fake.now
        verdict = lim.on_throttle(await lim.acquire(), 0.7, whole_seconds=True)
        assert verdict.early
        assert (await lim.acquire()).start == pytest.approx(throttled_at + EARLY_TRY)

    async def test_late_answers_of_the_same_episode_do_not_extend_it(self, fake: FakeTime) -> None:
        """Requests in flight when the first 429 came belong to its episode: read later,
        their Retry-After counts from when they started."""
        lim = limiter(fake, None)
        await serve(lim, fake, 7)  # unspaced: served, seven let eight go at once
        tickets = [await lim.acquire() for _ in range(8)]
        lim.on_throttle(tickets[0], retry_after=2.0)
        fake.now += 0.4  # the others are read 0.4 s later
        verdicts = [lim.on_throttle(t, retry_after=2.0) for t in tickets[1:]]
        assert not any(v.new for v in verdicts)
        assert lim.paused_for == pytest.approx(1.65)
        assert lim.throttles == 8

    async def test_a_wait_past_max_wait_raises_at_once(self, fake: FakeTime) -> None:
        """When a wait would exceed what --max-wait leaves, the run gives up without it."""
        lim = limiter(fake, 10.0, max_wait=600.0)
        lim.on_throttle(await lim.acquire(), retry_after=3600.0)
        with pytest.raises(WaitedTooLong, match="1 h"):
            await lim.acquire()
        assert fake.sleeps == []

    async def test_waits_count_against_max_wait_in_all(self, fake: FakeTime) -> None:
        """Two waits of 40 s fit a budget of 100 s; a third does not."""
        lim = limiter(fake, 10.0, max_wait=100.0)
        for _ in range(2):
            lim.on_throttle(await lim.acquire(), retry_after=40.0)
        await lim.acquire()
        assert lim.lost == pytest.approx(80.0)
        lim.on_throttle(await lim.acquire(), retry_after=40.0)
        with pytest.raises(WaitedTooLong):
            await lim.acquire()

    async def test_the_spacing_holds_right_after_a_pause(self, fake: FakeTime) -> None:
        """Woken at the very end of a pause (float dust and all), workers still go one
        spacing apart, not all at once."""
        lim = limiter(fake, 10.0)
        fake.now = 1000.1
        lim.on_throttle(await lim.acquire(), retry_after=0.7, whole_seconds=False)
        starts = [t.start for t in await asyncio.gather(*(lim.acquire() for _ in range(3)))]
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert gaps == [pytest.approx(1 / lim.rate)] * 2


class TestProbes:
    async def test_without_retry_after_one_probe_at_a_time(self, fake: FakeTime) -> None:
        """A throttle without Retry-After closes the gate: one probe goes, the others
        wait for its answer; refused probes go further apart; a served one reopens."""
        lim = limiter(fake, 10.0)
        lim.on_throttle(await lim.acquire())
        probe = await lim.acquire()
        assert probe.probe
        assert fake.now == pytest.approx(1000.1 + PROBE_FIRST, abs=0.11)
        waiting = asyncio.ensure_future(lim.acquire())
        await asyncio.sleep(0)
        assert not waiting.done()  # nothing else starts while the probe is out
        first = fake.now
        lim.on_throttle(probe)
        probe = await waiting
        # the step doubles: the next probe as long after as the closure has lasted
        assert probe.probe
        assert fake.now - first == pytest.approx(PROBE_FIRST, abs=0.01)
        lim.on_success(probe)
        after = await lim.acquire()
        assert not after.probe

    async def test_a_failure_that_says_nothing_frees_the_probe(self, fake: FakeTime) -> None:
        """A probe that ends in a reset is no answer: another probe may go."""
        lim = limiter(fake, 10.0)
        lim.on_throttle(await lim.acquire())
        probe = await lim.acquire()
        lim.on_failure(probe)
        again = await lim.acquire()
        assert again.probe


class TestBucket:
    async def test_an_overrun_cuts_to_80_percent(self, fake: FakeTime) -> None:
        """One overrun, nothing else known: 80 % of the rate that overran."""
        lim = limiter(fake, 25.0)
        await serve(lim, fake, 20)
        lim.on_throttle(await lim.acquire(), retry_after=1.0)
        assert lim.rate == pytest.approx(FIRST_CUT * 25.0, rel=0.01)

    async def test_a_cut_that_overruns_again_at_once_is_cut_deeper(self, fake: FakeTime) -> None:
        """Cut once, and over again within two seconds: still far off, so 60 % of it."""
        lim = limiter(fake, 25.0)
        await serve(lim, fake, 7)
        lim.on_throttle(await lim.acquire(), retry_after=1.0)
        cut = lim.rate
        await serve(lim, fake, 10)  # half a second at 20/s
        lim.on_throttle(await lim.acquire(), retry_after=1.0)
        assert lim.rate == pytest.approx(0.6 * cut)

    async def test_two_segments_measure_the_bucket(self, fake: FakeTime) -> None:
        """From full, a 20/s bucket of 5 serves 25 in 1 s at 25/s, then after a pause 205
        in 10 s at 20.5/s rising to 20.9: the rate is set just below 20/s (the bounds
        the second segment gives, 19.9 and the 20.9 that overran, meet within 5 %)."""
        lim = limiter(fake, 25.0)
        await serve(lim, fake, 25)
        lim.on_throttle(await lim.acquire(), retry_after=1.0)
        lim.rate = 20.5  # as if it had probed up since
        await serve(lim, fake, 205)
        lim.on_throttle(await lim.acquire(), retry_after=1.0)
        assert 19.5 < lim.rate < 20.0

    async def test_without_a_ceiling_the_first_overrun_falls_back_to_the_default(
        self, fake: FakeTime
    ) -> None:
        """Unspaced at first, the first overrun says nothing of a rate: the run goes on at
        the default's pace, not at a guess from the opening burst."""
        lim = limiter(fake, None)
        await serve(lim, fake, 30)
        lim.on_throttle(await lim.acquire(), retry_after=1.0)
        assert lim.rate == START_RATE

    async def test_punished_again_goes_back_to_the_rate_served_safely(self, fake: FakeTime) -> None:
        """Banned at 25/s, then again at 21/s after 20/s was served for a while: the rate
        goes back just below 20/s (not half of 21) and probes no higher in the run."""
        lim = limiter(fake, 25.0)
        await serve(lim, fake, 20, every=0.04)
        lim.on_throttle(await lim.acquire(), retry_after=2.0)
        assert lim.rate == pytest.approx(FIRST_CUT * 25.0)
        fake.now += 2.0
        await serve(lim, fake, 600, every=0.05)  # 30 s at 20/s, then a rise or two
        assert lim.rate > 20.0
        overran = lim.rate
        lim.on_throttle(await lim.acquire(), retry_after=2.0)
        assert lim.rate == pytest.approx(SAFETY * 20.0, rel=0.01)
        assert lim.rate > overran / 2
        fake.now += 2.0
        await serve(lim, fake, 2000, every=0.06)
        assert lim.rate == pytest.approx(SAFETY * 20.0, rel=0.01)

    async def test_the_rate_climbs_back_slowly_and_not_past_the_ceiling(
        self, fake: FakeTime
    ) -> None:
        """After a hold the rate rises a little at a time, never above --rate."""
        lim = limiter(fake, 25.0)
        await serve(lim, fake, 20)
        lim.on_throttle(await lim.acquire(), retry_after=1.0)
        cut = lim.rate
        await serve(lim, fake, 100)  # five seconds: still held
        assert lim.rate == cut
        await serve(lim, fake, 2000)
        assert cut < lim.rate <= 25.0


class TestPunished:
    async def test_a_ban_caps_the_rate_for_the_run(self, fake: FakeTime) -> None:
        """An overrun answered with a ban is never probed past again."""
        lim = limiter(fake, 25.0)
        await serve(lim, fake, 20)
        verdict = lim.on_throttle(await lim.acquire(), retry_after=5.0)
        assert verdict.long
        assert lim.cap == pytest.approx(25.0)
        await serve(lim, fake, 5000)
        assert lim.rate <= SAFETY * 25.0 + 1e-9

    async def test_a_second_ban_halves(self, fake: FakeTime) -> None:
        """Punished again (bans may double): half the rate that was punished."""
        lim = limiter(fake, 25.0)
        await serve(lim, fake, 20)
        lim.on_throttle(await lim.acquire(), retry_after=2.0)
        second = lim.rate
        await serve(lim, fake, 10)
        lim.on_throttle(await lim.acquire(), retry_after=4.0)
        assert lim.cap == pytest.approx(second)
        assert lim.rate <= 0.5 * second + 1e-9

    async def test_a_doubled_wait_is_a_repeated_punishment(self, fake: FakeTime) -> None:
        """A one-second Retry-After passes for a bucket's; the next, twice as long, shows a
        ban escalating: the rate halves at once."""
        lim = limiter(fake, 25.0)
        await serve(lim, fake, 7)
        lim.on_throttle(await lim.acquire(), retry_after=1.0)
        assert lim.cap == math.inf
        cut = lim.rate
        await serve(lim, fake, 5)
        verdict = lim.on_throttle(await lim.acquire(), retry_after=2.0)
        assert verdict.long
        assert lim.cap == pytest.approx(cut)
        assert lim.rate <= 0.5 * cut + 1e-9

    async def test_a_closure_twice_as_long_as_the_last_is_a_repeated_punishment(
        self, fake: FakeTime
    ) -> None:
        """Without Retry-After too: a closure of a second, found by probes, passes for a
        bucket's; the next, twice as long, shows a ban escalating: the rate halves (in the
        sweep, bans of 1 s over 5 and 10/s without Retry-After took 1.87 and 1.82 of the
        least time at 300 photos, now 1.11 and 1.14)."""
        lim = limiter(fake, 25.0)
        await serve(lim, fake, 7)

        async def closed_for(probes: int) -> float:
            """Throttled, then ``probes`` probes refused and the next served: the closure's
            length."""
            lim.on_throttle(await lim.acquire())
            began = fake.now
            for _ in range(probes):
                lim.on_throttle(await lim.acquire())
            probe = await lim.acquire()
            assert probe.probe
            lim.on_success(probe)
            return fake.now - began

        first = await closed_for(1)
        assert first == pytest.approx(2 * PROBE_FIRST, abs=0.05)
        assert lim.cap == math.inf  # a bucket refilling
        second_rate = lim.rate
        await serve(lim, fake, 5)
        second = await closed_for(2)
        assert second >= 1.8 * first
        assert lim.cap == pytest.approx(second_rate)
        assert lim.rate <= 0.5 * second_rate + 1e-9

    async def test_a_doubled_wait_after_a_first_burst_is_a_first_punishment(
        self, fake: FakeTime
    ) -> None:
        """Without a ceiling, the opening burst refused for a second, then the default's
        25/s refused for two: the wait doubled, but the burst measured no rate, so 25/s is
        the first rate punished. The rate goes just below it, as after the default's
        first overrun, not to half of it (in the sweep, bans of 1 s over 5 to 20/s at 300
        photos took 1.5 to 1.6 of the default's time, now 1.06 to 1.12)."""
        lim = limiter(fake, None)
        await serve(lim, fake, 5, every=0.004)
        lim.on_throttle(await lim.acquire(), retry_after=1.0)
        assert lim.rate == pytest.approx(START_RATE)
        fake.now += 1.0
        await serve(lim, fake, 25)
        verdict = lim.on_throttle(await lim.acquire(), retry_after=2.0)
        assert verdict.long
        assert lim.cap == pytest.approx(START_RATE)
        assert lim.rate == pytest.approx(FIRST_CUT * START_RATE)

    async def test_a_banned_opening_burst_is_punished_at_its_own_rate(self, fake: FakeTime) -> None:
        """Without a ceiling, five requests served in 20 ms then a ban: the burst went at
        250/s, not at the five a whole second would count. The cap (kept for the next
        runs) is that rate, and the run goes on as the default would have."""
        lim = limiter(fake, None)
        await serve(lim, fake, 5, every=0.004)
        verdict = lim.on_throttle(await lim.acquire(), retry_after=2.0)
        assert verdict.long
        assert lim.cap == pytest.approx(5 / 0.02)
        assert lim.rate == pytest.approx(FIRST_CUT * START_RATE)
        assert lim.learned.cap == pytest.approx(5 / 0.02)

    async def test_an_opening_burst_that_closed_a_window_goes_on_at_its_average(
        self, fake: FakeTime
    ) -> None:
        """Without a ceiling, 150 requests served in 0.6 s, then told to wait 5 s (a
        window of 150 per 5 s): over the burst and the wait the server allowed 150 in
        5.6 s, faster than the 80 % of 25/s a banned burst goes on at. The run goes on
        just below that average: at 20/s it would trickle through every later window
        without seeing it, slower than the default (in the sweep at 1,500 photos, 1.17 to
        1.20 of the default's time; now 0.85 to 0.95)."""
        lim = limiter(fake, None)
        await serve(lim, fake, 150, every=0.004)
        verdict = lim.on_throttle(await lim.acquire(), retry_after=5.0)
        assert verdict.long
        assert lim.rate == pytest.approx(SAFETY * 150 / (0.6 + 5.0), rel=0.01)
        assert lim.rate > FIRST_CUT * START_RATE

    async def test_a_ban_before_anything_was_served_measures_no_rate(self, fake: FakeTime) -> None:
        """Refused at the first request (a ban still running from an earlier run): no rate
        was punished, none is kept."""
        lim = limiter(fake, None)
        lim.on_throttle(await lim.acquire(), retry_after=30.0)
        assert lim.cap == math.inf
        assert lim.learned.cap is None


class TestWindow:
    async def window_learned(self, lim: AdaptiveLimiter, fake: FakeTime) -> None:
        """Two windows of 50 told by Retry-After, the second served more slowly."""
        await serve(lim, fake, 50)
        lim.on_throttle(await lim.acquire(), retry_after=8.0)
        await serve(lim, fake, 50)
        lim.on_throttle(await lim.acquire(), retry_after=7.5)
        assert lim.window is not None

    async def test_two_closures_alike_are_a_quota(self, fake: FakeTime) -> None:
        """The same count served at two paces, then closed: a quota window."""
        lim = limiter(fake, 25.0)
        await self.window_learned(lim, fake)
        assert lim.window is not None
        assert lim.window.quota == 50
        assert math.isinf(lim.ceiling)

    async def test_a_window_opens_with_slow_start_then_asks(self, fake: FakeTime) -> None:
        """When it opens, one request goes, then more as answers come (at most two in
        flight until a window was served whole); after the quota one request asks when
        the next opens, and nothing else starts until it is answered."""
        lim = limiter(fake, 25.0)
        await self.window_learned(lim, fake)
        first = await lim.acquire()
        blocked = asyncio.ensure_future(lim.acquire())
        await asyncio.sleep(0)
        assert not blocked.done()  # one in flight until it is answered
        lim.on_success(first)
        second = await blocked
        third = await lim.acquire()
        assert (first.slot, second.slot, third.slot) == (1, 2, 3)
        lim.on_success(second)
        lim.on_success(third)
        for _ in range(47):
            lim.on_success(await lim.acquire())
        ask = await lim.acquire()
        assert ask.probe
        assert ask.slot == 51
        blocked = asyncio.ensure_future(lim.acquire())
        await asyncio.sleep(0)
        assert not blocked.done()
        lim.on_throttle(ask, retry_after=9.0)
        opened = await blocked
        assert opened.slot == 1
        assert opened.start == pytest.approx(ask.start + 9.0)

    async def test_a_window_refusing_in_its_burst_is_a_sliding_log(self, fake: FakeTime) -> None:
        """Refused in a burst but free again soon: the quota comes back one by one."""
        lim = limiter(fake, 25.0)
        await self.window_learned(lim, fake)
        tickets = [await lim.acquire()]
        lim.on_success(tickets[0])
        refused = await lim.acquire()
        lim.on_throttle(refused, retry_after=0.5)
        assert lim.window is not None
        assert lim.window.sliding

    async def test_the_ceiling_holds_on_average_in_windows(self, fake: FakeTime) -> None:
        """With --rate 5, a window's quota of 50 goes at once after ten idle seconds."""
        lim = limiter(fake, 5.0)
        lim.rate = 4.0
        await serve(lim, fake, 50, every=0.25)
        lim.on_throttle(await lim.acquire(), retry_after=60.0)
        await serve(lim, fake, 50, every=0.3)
        lim.on_throttle(await lim.acquire(), retry_after=40.0)
        assert lim.window is not None
        start = fake.now
        await serve(lim, fake, 50)
        assert fake.now - start == pytest.approx(40.0, abs=0.5)  # the wait, then at once

    async def test_answers_read_after_the_throttle_count_to_its_window(
        self, fake: FakeTime
    ) -> None:
        """Unspaced (--rate 0), three of the first window's 50 are answered after its
        Retry-After was read: they still count to it, and the next window of 50 shows a
        quota."""
        lim = limiter(fake, None)
        await serve(lim, fake, 47)
        tickets = [await lim.acquire() for _ in range(4)]
        lim.on_throttle(tickets[3], retry_after=10.0)
        for ticket in tickets[:3]:  # in flight when the throttle came
            lim.on_success(ticket)
        await serve(lim, fake, 50, every=0.1)
        lim.on_throttle(await lim.acquire(), retry_after=5.0)
        assert lim.window is not None
        assert lim.window.quota == 50

    async def test_a_bucket_overrun_after_alike_counts_is_no_window(self, fake: FakeTime) -> None:
        """Held just below a bucket's rate, overruns come after alike counts, each with a
        wait of one refill: the rate stays spaced, no quota window is used."""
        lim = limiter(fake, 25.0)
        for _ in range(3):
            await serve(lim, fake, 200, every=0.05)
            lim.on_throttle(await lim.acquire(), retry_after=1.0)
        assert lim.window is None
        assert math.isfinite(lim.rate)


class TestWindowWithoutRetryAfter:
    async def silent_windows(self, lim: AdaptiveLimiter, fake: FakeTime) -> None:
        """Two windows of 50 found by probes: closed at once after the quota, open again
        ten seconds after each opened."""
        opened = fake.now
        for _ in range(2):
            await serve(lim, fake, 50)
            lim.on_throttle(await lim.acquire())
            while True:
                probe = await lim.acquire()
                if probe.start >= opened + 10.0:
                    lim.on_success(probe)
                    break
                lim.on_throttle(probe)
            opened += 10.0
            fake.now = max(fake.now, opened)
        assert lim.window is not None

    async def test_answers_of_the_last_window_do_not_open_the_next(self, fake: FakeTime) -> None:
        """The last of a window's quota answered after the next opening was tried count
        to the window they went in: the try is still one request until it is answered."""
        lim = limiter(fake, 25.0)
        await self.silent_windows(lim, fake)
        for _ in range(47):
            lim.on_success(await lim.acquire())
        late = [await lim.acquire() for _ in range(2)]  # in flight at the quota's end
        try_ = await lim.acquire()
        assert try_.slot == 1
        for ticket in late:
            lim.on_success(ticket)
        blocked = asyncio.ensure_future(lim.acquire())
        await asyncio.sleep(0)
        assert not blocked.done()  # the try's answer says whether the window opened
        lim.on_success(try_)
        assert (await blocked).slot == 2

    async def test_the_next_opening_is_tried_within_its_bracket(self, fake: FakeTime) -> None:
        """After the quota, nothing is refused to ask: the next window is tried within
        the bracket the last openings give, and a refused try narrows it."""
        lim = limiter(fake, 25.0)
        await self.silent_windows(lim, fake)
        window = lim.window
        assert window is not None
        assert window.quota == 50
        for _ in range(49):
            lim.on_success(await lim.acquire())
        expected = window.next_opening()
        assert expected is not None
        first = await lim.acquire()
        assert first.slot == 1
        assert expected[0] <= first.start <= expected[1]
        lim.on_throttle(first)  # too early
        second = await lim.acquire()
        assert first.start < second.start <= expected[1]
        lim.on_success(second)
        assert lim.window is not None
        assert lim.window.opened[1] == pytest.approx(second.start)

    async def test_refused_early_then_served_soon_is_a_sliding_log(self, fake: FakeTime) -> None:
        """Refused in a burst, served again a quarter second later: a sliding log, whose
        slots then come back as the requests a quota before grow a window old."""
        lim = limiter(fake, 25.0)
        await self.silent_windows(lim, fake)
        for _ in range(9):
            lim.on_success(await lim.acquire())
        lim.on_throttle(await lim.acquire())
        lim.on_success(await lim.acquire())  # the probe, 0.25 s later
        window = lim.window
        assert window is not None
        assert window.sliding
        assert window.length is not None
        span = window.length[1]
        before = fake.now
        starts = []
        for _ in range(60):
            ticket = await lim.acquire()
            lim.on_success(ticket)
            starts.append(ticket.start)
        assert fake.now - before > 1.0  # it waited for the oldest of the log to expire
        for t in starts:  # never more than the quota in any window's length
            assert sum(1 for u in starts if t - span < u <= t) <= window.quota


def test_a_request_served_early_bounds_a_sliding_log() -> None:
    """A sliding log thought up to 14 s long serves a request 9.5 s after the one a quota
    (10) before it: it is at most 9.5 s long, and the next waits only for that."""
    learner = Learner(Pace(25.0, 25.0, 0.2))
    learner.window = Window(10, (0.0, 0.0), (8.0, 14.0), sliding=True)
    for i in range(10):
        learner.served(learner.start(i / 10), i / 10 + 0.01)
    learner.served(learner.start(9.5), 9.51)
    assert learner.window.length is not None
    assert learner.window.length[0] == 8.0
    assert learner.window.length[1] == pytest.approx(9.5)
    wait, reason = learner.delay(9.6)
    assert reason == "window"
    assert 9.6 + wait == pytest.approx(0.1 + 9.5 + SLIDING_MARGIN)


def test_answers_out_of_order_bound_a_sliding_log_by_their_starts() -> None:
    """A long download started at 3 answers after one started at 4: a request served at 6
    shows a log of two at most 3 s long (6 - 3), not 2 (6 - 4, read in answer order)."""
    learner = Learner(Pace(25.0, 25.0, 0.2))
    learner.window = Window(2, (0.0, 0.0), (2.5, 4.0), sliding=True)
    early, late = learner.start(3.0), learner.start(4.0)
    learner.served(late, 4.2)
    learner.served(early, 5.5)
    learner.served(learner.start(6.0), 6.1)
    assert list(learner.served_log) == [3.0, 4.0, 6.0]
    assert learner.window.length == (2.5, 3.0)


def spaced(pace: Pace, now: float, until: float) -> float:
    """Requests served at the pace's spacing from ``now`` to ``until``, the pace rising as
    it may; returns the time after the last."""
    while now < until:
        pace.started(now)
        pace.served(now)
        pace.rise(now)
        now += 1.0 / pace.rate
    return now


def test_a_pace_that_rose_into_an_overrun_is_not_cut_to_its_average() -> None:
    """Spaced from 12/s rising to 25/s over 20 s, then an overrun: the segment served
    about 19/s on average because the pace was lower for most of it, which says nothing
    of the bucket. The cut is from the 25/s that overran (to 80 %, 20/s), not from 19
    (to 15/s)."""
    pace = Pace(25.0, 12.0, 0.2)
    now = spaced(pace, 0.0, 20.0)
    assert pace.rate == pytest.approx(25.0)
    pace.end_segment(now, pace.rate)
    pace.cut(now + 0.25, 0.25, 25.0)
    assert pace.rate == pytest.approx(FIRST_CUT * 25.0)


def test_punished_at_a_rate_it_held_goes_back_to_one_below() -> None:
    """Cut from 25/s to 20/s, 20/s served for a while, then 20.6/s for a while too, then
    punished at 20.6 with a wait that doubled: the rate served below the punished one is
    the one to go back to (just below 20/s), not half of 20.6 (over 1,500 photos against
    a ban of 1 s over 20/s, the halving cost a minute of slow climbing: 1.40 of the least
    time where 1.06 is possible)."""
    pace = Pace(25.0, 25.0, 0.2)
    pace.throttled = True
    pace.started(0.0)
    pace.served(0.0)
    pace.end_segment(0.04, 25.0)
    pace.cut(0.05, 1.0, 25.0)  # the first overrun, at 25/s: cut to 20/s
    assert pace.rate == pytest.approx(20.0)
    now = 0.05
    for ceiling in (20.0, 20.612):  # the ceiling holds each rate for 10 s
        pace.max_rate = ceiling
        now = spaced(pace, now, now + 10.0)
    assert pace.rate == pytest.approx(20.612)
    pace.end_segment(now, pace.rate)
    pace.punish(now + 2.0, 2.0, 20.612, again=True)
    assert pace.rate == pytest.approx(SAFETY * 20.0)
    assert pace.cap == pytest.approx(20.0)


def test_a_windows_counted_pace_is_not_a_rising_one() -> None:
    """A segment that ended in a window's burst carries the requests served in its last
    second (100), not a spacing: it is not read as a pace that rose from 20/s, and its
    average still bounds the bucket."""
    pace = Pace(25.0, 20.0, 0.2)
    for i in range(40):
        pace.started(i / 20.0)
        pace.served(i / 20.0)
    pace.end_segment(2.0, 100.0)
    pace.cut(2.25, 0.25, 100.0)
    assert pace.rate == pytest.approx(FIRST_CUT * 20.0)


def test_a_climb_between_near_bounds_aims_below_the_upper_one() -> None:
    """A bucket of 5/s, burst 5: the pace rose from 4.8 to 5.6 and overran after 37
    served in 7 s, 0.47 s after the last refusal. The bucket serves less than 5.6 and at
    least 36 / 7.47 = 4.82. Climbing halfway to just under 5.6 again and again drained
    it every ten seconds (3.2 % of a minute's requests refused); the climb heads a
    quarter of the way down to the lower bound instead, closer to the bucket."""
    pace = Pace(25.0, 25.0, 0.2)
    pace.throttled = True  # as the learner marks it at each throttle
    for i in range(6):  # the opening burst overruns a full bucket
        pace.started(i * 0.04)
        pace.served(i * 0.04)
    pace.end_segment(0.2, 25.0)
    pace.cut(0.45, 0.25, 25.0)
    pace.rate = 4.8
    now = 0.67
    for i in range(37):
        pace.rate = 4.8 + 0.8 * i / 36
        pace.started(now)
        pace.served(now)
        now += 7.0 / 37
    pace.end_segment(now, pace.rate)
    pace.cut(now + 0.25, 0.25, pace.rate)
    lower = 36 / (now - 0.2)
    assert pace.upper == pytest.approx(5.6)
    assert pace.lower == pytest.approx(lower)
    for step in range(1, 8):  # within the hold: only the climb to the firm bound moves it
        pace.rise(now + 0.25 + 2.0 * step)
    aim = 5.6 - 0.25 * (5.6 - lower)
    assert pace.rate == pytest.approx(SAFETY * aim, rel=0.01)
    assert pace.rate < 5.3 < SAFETY * 5.6


class TestWindowAnswers:
    async def learned(self, fake: FakeTime) -> AdaptiveLimiter:
        lim = limiter(fake, 25.0)
        await TestWindow().window_learned(lim, fake)
        return lim

    async def test_a_window_closing_early_has_a_smaller_quota(self, fake: FakeTime) -> None:
        """Closed after 40 of 50: the quota is 40 from then on."""
        lim = await self.learned(fake)
        for _ in range(40):
            lim.on_success(await lim.acquire())
        lim.on_throttle(await lim.acquire(), retry_after=8.0)
        assert lim.window is not None
        assert lim.window.quota == 40

    async def test_closing_far_earlier_was_no_window(self, fake: FakeTime) -> None:
        """Closed after 5 of 50: it was no window (a ban that looked like one)."""
        lim = await self.learned(fake)
        for _ in range(5):
            lim.on_success(await lim.acquire())
        lim.on_throttle(await lim.acquire(), retry_after=8.0)
        assert lim.window is None
        assert math.isfinite(lim.cap)

    async def test_no_window_after_all_is_punished_at_the_spaced_rate(self, fake: FakeTime) -> None:
        """Closed after 5 of 50: back to a rate, capped at the rate requests were spaced
        at before the window, not at the few served in the last second."""
        lim = await self.learned(fake)
        spaced = lim.rate
        for _ in range(5):
            lim.on_success(await lim.acquire())
        lim.on_throttle(await lim.acquire(), retry_after=8.0)
        assert lim.window is None
        assert lim.cap == pytest.approx(spaced)

    async def test_a_wait_longer_than_a_window_is_a_ban(self, fake: FakeTime) -> None:
        """Asked to wait three windows: punished, not closed; back to a spaced rate."""
        lim = await self.learned(fake)
        for _ in range(50):
            lim.on_success(await lim.acquire())
        verdict = lim.on_throttle(await lim.acquire(), retry_after=40.0)
        assert verdict.long
        assert lim.window is None

    async def test_a_failed_ask_lets_another_ask(self, fake: FakeTime) -> None:
        """The request that asks when the next window opens ends in a reset: another asks."""
        lim = await self.learned(fake)
        for _ in range(50):
            lim.on_success(await lim.acquire())
        ask = await lim.acquire()
        lim.on_failure(ask)
        again = await lim.acquire()
        assert again.probe
        assert again.slot == 52


class TestLearned:
    async def test_a_rate_is_learned_only_over_a_real_interval(self, fake: FakeTime) -> None:
        """Nothing is learned before ten quiet seconds of serving at the rate."""
        lim = limiter(fake, 25.0)
        await serve(lim, fake, 20)
        lim.on_throttle(await lim.acquire(), retry_after=1.0)
        await serve(lim, fake, 50)
        assert lim.learned.rate is None
        await serve(lim, fake, 200)
        assert lim.learned.rate == pytest.approx(lim.rate)

    async def test_a_slow_run_learns_no_rate(self, fake: FakeTime) -> None:
        """A run slower than its rate (big videos) did not test it: nothing learned."""
        lim = limiter(fake, 25.0)
        await serve(lim, fake, 20)
        lim.on_throttle(await lim.acquire(), retry_after=1.0)
        await serve(lim, fake, 40, every=0.5)
        assert lim.learned.rate is None

    def test_resume_starts_below_a_remembered_ban(self, fake: FakeTime) -> None:
        """A remembered punished rate is a cap from the start; the rate starts below it."""
        lim = limiter(fake, 25.0)
        lim.resume(Learned(cap=20.0, rate=15.0))
        assert lim.cap == 20.0
        assert lim.rate == 15.0

    def test_resume_a_window(self, fake: FakeTime) -> None:
        """A remembered window is used from the first request."""
        lim = limiter(fake, 25.0)
        lim.resume(Learned(quota=100, window=10.0))
        assert lim.window is not None
        assert lim.window.quota == 100


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.4, "0.4 s"),
        (8.5, "8.5 s"),
        (45.0, "45 s"),
        (75.0, "1 min 15 s"),
        (240.0, "4 min"),
        (1800.0, "30 min"),
        (3600.0, "1 h"),
        (4000.0, "1 h 7 min"),
    ],
)
def test_human_wait(seconds: float, text: str) -> None:
    """Waits read as people say them."""
    assert human_wait(seconds) == text


def test_ticket_is_frozen() -> None:
    """A ticket is a value: what the limiter handed out cannot change afterwards."""
    ticket = Ticket(1.0, 0)
    with pytest.raises(AttributeError):
        ticket.start = 2.0  # type: ignore[misc]
