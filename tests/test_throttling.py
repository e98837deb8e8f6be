"""Against every throttle policy of the emulator: every file arrives intact, the limiter
learns the policy, long waits are waited within --max-wait, and past it the run stops.

The emulator and the run share a fake clock that moves only when the run sleeps, so a
window of minutes costs no real time; the HTTP, the files and their checks are real.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from aura_async.cli import ExitCode, app
from aura_async.download.session import Runner
from aura_async.emulator import (
    Emulator,
    EmulatorConfig,
    EscalatingBan,
    FixedWindow,
    FrameSpec,
    LongWait,
    Policy,
    RetryAfterMode,
    SlidingWindow,
    Throttle,
    TokenBucket,
)
from aura_async.emulator.thread import emulator_in_thread
from aura_async.exceptions import WaitedTooLong
from aura_async.options import DownloadOptions, RunOptions
from aura_async.report import Event, FileDone, FileFailed, FrameReport, Throttled
from aura_async.seams import Seams

from .conftest import FakeTime, settings_for, small_config, write_config
from .test_downloader import expected_files, files_on_disk

POLICIES: dict[str, Policy] = {
    "bucket": TokenBucket(rate=20.0, burst=3),
    "fixed": FixedWindow(quota=8, window=5.0),
    "sliding": SlidingWindow(quota=8, window=5.0),
    "ban": EscalatingBan(rate=20.0, burst=3, ban=2.0),
    "long": LongWait(quota=15, period=240.0),
}


def throttled_config(policy: Policy, mode: RetryAfterMode, status: int = 429) -> EmulatorConfig:
    return small_config(throttle=Throttle(policy=policy, retry_after=mode, status=status))


async def run(
    emu: Emulator,
    tmp_path: Path,
    fake: FakeTime,
    *,
    rate: float | None = 25.0,
    max_wait: float = 1800.0,
    events: list[Event] | None = None,
    concurrency: int = 8,
) -> tuple[FrameReport, Runner]:
    """Download the first frame in fake time. With one worker the order of events in
    fake time is the same every run (tests of what is learned use it); with eight,
    answers race their requests as on a real network."""
    settings = settings_for(emu, tmp_path)
    download = DownloadOptions(concurrency=concurrency)
    options = RunOptions(download=download, rate=rate, max_wait=max_wait)
    seams = Seams(sleep=fake.sleep, clock=fake.clock, wallclock=fake.wallclock)
    report = FrameReport("myframe")
    on_event = events.append if events is not None else None
    async with Runner(settings, options, on_event=on_event, seams=seams) as runner:
        await runner.download(settings.frame("myframe"), report)
    return report, runner


@pytest.mark.parametrize("mode", ["seconds", "date", "none"])
@pytest.mark.parametrize("name", list(POLICIES))
async def test_every_file_arrives_under_every_policy(
    tmp_path: Path, name: str, mode: RetryAfterMode
) -> None:
    """Whatever the policy and its Retry-After, every file arrives byte-identical and
    every throttled response was seen and counted."""
    fake = FakeTime()
    config = throttled_config(POLICIES[name], mode)
    async with Emulator(config, clock=fake.clock, wallclock=fake.wallclock) as emu:
        report, runner = await run(emu, tmp_path, fake)
        assert files_on_disk(tmp_path / "myframe") == expected_files(emu)
        assert emu.counters.throttled > 0
        assert report.throttled == emu.counters.throttled == runner.limiter.throttles
    assert report.failed == 0


@pytest.mark.parametrize("status", [429, 503])
async def test_503_is_throttling_too(tmp_path: Path, status: int) -> None:
    """An overloaded gateway's 503 is a throttle signal like 429."""
    fake = FakeTime()
    config = throttled_config(POLICIES["bucket"], "seconds", status)
    events: list[Event] = []
    async with Emulator(config, clock=fake.clock, wallclock=fake.wallclock) as emu:
        report, _ = await run(emu, tmp_path, fake, events=events)
        assert files_on_disk(tmp_path / "myframe") == expected_files(emu)
    throttled = [e for e in events if isinstance(e, Throttled)]
    assert throttled
    assert all(e.status == status for e in throttled)
    assert report.failed == 0


@pytest.mark.parametrize("mode", ["seconds", "date"])
async def test_a_fixed_window_is_learned_and_used_whole(
    tmp_path: Path, mode: RetryAfterMode
) -> None:
    """After two windows alike, the quota goes out when a window opens: every later
    window is used whole, and only one request per window is refused."""
    fake = FakeTime()
    config = small_config(
        frames=[FrameSpec(photos=200, videos=0, live_photos=0, placeholders=0, hidden=0)],
        throttle=Throttle(policy=FixedWindow(quota=40, window=5.0), retry_after=mode),
    )
    async with Emulator(config, clock=fake.clock, wallclock=fake.wallclock) as emu:
        _, runner = await run(emu, tmp_path, fake, concurrency=1)
        used = emu.counters.quota_used
        windows = len(used)
        throttled = emu.counters.throttled
    assert runner.limiter.window is not None
    assert runner.limiter.window.quota == 40
    assert used == [40] * 5  # every window used whole: none lost
    assert throttled <= windows + 2  # the first closes on what is in flight


async def test_a_ban_is_not_provoked_twice(tmp_path: Path) -> None:
    """After an overrun is punished with a ban, the run never goes that fast again."""
    fake = FakeTime()
    config = small_config(
        frames=[FrameSpec(photos=80, videos=0, live_photos=0, placeholders=0, hidden=0)],
        throttle=Throttle(policy=EscalatingBan(rate=22.0, burst=3, ban=5.0)),
    )
    async with Emulator(config, clock=fake.clock, wallclock=fake.wallclock) as emu:
        report, runner = await run(emu, tmp_path, fake, concurrency=1)
        bans = emu.counters.policy.bans
    assert bans == 1
    assert runner.limiter.cap == pytest.approx(25.0)
    assert runner.limiter.rate < 22.0
    assert report.failed == 0


async def test_a_long_wait_is_waited_and_said(tmp_path: Path) -> None:
    """An hourly-style quota answered with a wait of minutes is waited, not failed, and
    the wait reaches the display."""
    fake = FakeTime()
    events: list[Event] = []
    config = throttled_config(LongWait(quota=20, period=600.0), "seconds")
    async with Emulator(config, clock=fake.clock, wallclock=fake.wallclock) as emu:
        started = fake.now
        report, runner = await run(emu, tmp_path, fake, events=events)
        assert files_on_disk(tmp_path / "myframe") == expected_files(emu)
    long = [e for e in events if isinstance(e, Throttled) and e.new and e.wait > 60]
    assert long
    assert long[0].told
    assert not any(e.gives_up for e in long)  # within --max-wait: waited, said as such
    assert 600.0 <= fake.now - started < 1300.0
    assert runner.limiter.lost == pytest.approx(fake.now - started, abs=5.0)
    assert report.failed == 0


async def test_a_wait_past_max_wait_gives_up_at_once(tmp_path: Path) -> None:
    """A Retry-After longer than what --max-wait leaves stops the run without waiting."""
    fake = FakeTime()
    config = throttled_config(LongWait(quota=5, period=3600.0), "seconds")
    async with Emulator(config, clock=fake.clock, wallclock=fake.wallclock) as emu:
        started = fake.now
        events: list[Event] = []
        with pytest.raises(WaitedTooLong, match="--max-wait"):
            await run(emu, tmp_path, fake, max_wait=900.0, events=events)
        assert emu.counters.policy.admitted == 5
    assert fake.now - started < 1.0
    throttles = [e for e in events if isinstance(e, Throttled)]
    assert throttles
    assert all(e.gives_up for e in throttles if e.new)
    # the files it did not fetch are left for the next run, not failed
    assert sum(isinstance(e, FileDone) for e in events) == 5
    assert not [e for e in events if isinstance(e, FileFailed)]


async def test_endless_throttling_gives_up(tmp_path: Path) -> None:
    """When the server refuses everything, the probes space out and the run stops once
    they have waited --max-wait in all."""
    fake = FakeTime()
    config = small_config(throttle=Throttle(rate=1000.0, burst=0, retry_after="none"))
    async with Emulator(config, clock=fake.clock, wallclock=fake.wallclock) as emu:
        with pytest.raises(WaitedTooLong):
            await run(emu, tmp_path, fake, max_wait=120.0)
        assert emu.counters.count("image", 200) == 0
        refused = emu.counters.throttled
    assert refused < 30  # probes, one at a time and ever further apart


async def test_a_rate_served_for_a_while_is_what_the_folder_keeps(tmp_path: Path) -> None:
    """A run throttled by a bucket stores the rate it then served without throttling;
    the next run starts there instead of provoking the bucket again."""
    fake = FakeTime()
    config = small_config(
        frames=[FrameSpec(photos=600, videos=0, live_photos=0, placeholders=0, hidden=0)],
        throttle=Throttle(policy=TokenBucket(rate=20.0, burst=5), retry_after="seconds"),
    )
    async with Emulator(config, clock=fake.clock, wallclock=fake.wallclock) as emu:
        _, first = await run(emu, tmp_path, fake, concurrency=1)
        learned = first.limiter.learned
        assert learned.rate is not None
        assert 17.0 <= learned.rate <= 21.0  # the bucket's 20/s, within its burst's say
        (tmp_path / "myframe" / sorted(files_on_disk(tmp_path / "myframe"))[0]).unlink()
        emu.counters.reset()
        _, second = await run(emu, tmp_path, fake, max_wait=5.0, concurrency=1)
        assert second.limiter.rate == pytest.approx(learned.rate, rel=1e-3)


QUICK_POLICIES: dict[str, Policy] = {
    "bucket": TokenBucket(rate=100.0, burst=2),
    "fixed": FixedWindow(quota=12, window=0.3),
    "sliding": SlidingWindow(quota=12, window=0.3),
    "ban": EscalatingBan(rate=100.0, burst=3, ban=0.2),
    "long": LongWait(quota=15, period=0.4),
}


@pytest.mark.parametrize("name", list(QUICK_POLICIES))
def test_the_command_gets_every_file_under_every_policy(tmp_path: Path, name: str) -> None:
    """Through the command, in real time (policies of a fraction of a second): every
    file arrives intact and the run exits 0."""
    config = throttled_config(QUICK_POLICIES[name], "fractional")
    with emulator_in_thread(config) as emu:
        path = write_config(emu, tmp_path)
        result = CliRunner().invoke(app, ["--config", str(path), "myframe", "--rate", "0"])
        assert result.exit_code == ExitCode.OK, result.stderr
        assert emu.counters.throttled > 0
        assert files_on_disk(tmp_path / "photos") == expected_files(emu)


def test_throttled_run_exits_0_and_a_hopeless_one_exits_5(tmp_path: Path) -> None:
    """Through the command: a throttled run that gets every file exits 0; one whose
    server asks for more than --max-wait exits 5 and says why."""
    config = throttled_config(FixedWindow(quota=12, window=0.3), "fractional")
    with emulator_in_thread(config) as emu:
        path = write_config(emu, tmp_path)
        result = CliRunner().invoke(app, ["--config", str(path), "myframe", "--rate", "0"])
        assert result.exit_code == ExitCode.OK, result.stderr
        assert files_on_disk(tmp_path / "photos") == expected_files(emu)
    config = throttled_config(LongWait(quota=3, period=3600.0), "seconds")
    (tmp_path / "other").mkdir()
    with emulator_in_thread(config) as emu:
        path = write_config(emu, tmp_path / "other")
        result = CliRunner().invoke(app, ["--config", str(path), "myframe", "--max-wait", "60"])
    assert result.exit_code == ExitCode.THROTTLED
    assert "--max-wait" in result.stderr
    assert "3 downloaded, 0 skipped, 0 failed" in result.stderr
    assert "not attempted: the next run fetches them" in result.stderr
