"""Against a throttling emulator: files arrive intact, the rate adapts, endless 429s stop."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from aura_async.cli import ExitCode, app
from aura_async.download.session import Runner
from aura_async.emulator import Emulator, FrameSpec, Throttle
from aura_async.emulator.thread import emulator_in_thread
from aura_async.exceptions import RateLimited
from aura_async.options import DownloadOptions, RunOptions
from aura_async.pacing.retry import RetryPolicy
from aura_async.report import Event, FrameReport, Throttled

from .conftest import settings_for, small_config, write_config
from .test_downloader import expected_files, files_on_disk


async def run(
    emu: Emulator,
    tmp_path: Path,
    rate: float | None,
    events: list[Event],
    policy: RetryPolicy | None = None,
) -> tuple[FrameReport, Runner]:
    settings = settings_for(emu, tmp_path)
    options = RunOptions(
        download=DownloadOptions(concurrency=8, policy=policy or RetryPolicy()), rate=rate
    )
    report = FrameReport("myframe")
    async with Runner(settings, options, on_event=events.append) as runner:
        await runner.download(settings.frame("myframe"), report)
    return report, runner


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("mode", ["fractional", "none"])
async def test_every_file_arrives_while_throttled(tmp_path: Path, status: int, mode: str) -> None:
    """A server allowing 50 req/s (burst 1) throttles; every file still arrives intact."""
    # Eight workers start together, well inside 20 ms of each other, however loaded the
    # machine: the second request already finds the bucket empty.
    config = small_config(
        frames=[FrameSpec(photos=20, videos=1, live_photos=1, placeholders=0, hidden=0)],
        throttle=Throttle(rate=50.0, burst=1, retry_after=mode, status=status),  # type: ignore[arg-type]
    )
    events: list[Event] = []
    async with Emulator(config) as emu:
        policy = RetryPolicy(attempts=30, backoff=0.005, backoff_max=0.05)
        report, runner = await run(emu, tmp_path, 400.0, events, policy)
        assert emu.counters.throttled > 0
        assert report.throttled == emu.counters.throttled
        assert files_on_disk(tmp_path / "myframe") == expected_files(emu)
    assert report.failed == 0
    assert runner.limiter.throttles == report.throttled
    assert runner.limiter.rate < 400.0  # it slowed down
    throttled = [e for e in events if isinstance(e, Throttled)]
    assert all(e.status == status for e in throttled)


async def test_client_rate_below_server_limit_is_never_throttled(tmp_path: Path) -> None:
    """Spacing requests under the server's rate avoids 429s altogether."""
    config = small_config(
        frames=[FrameSpec(photos=20, videos=0, live_photos=0, placeholders=0, hidden=0)],
        throttle=Throttle(rate=400.0, burst=10),  # room for a stalled loop's bunching
    )
    async with Emulator(config) as emu:
        report, _ = await run(emu, tmp_path, 200.0, [])
        assert emu.counters.throttled == 0
    assert report.downloaded == 20


async def test_endless_throttling_gives_up(tmp_path: Path) -> None:
    """When 429s never stop, the run ends with RateLimited after the retry budget."""
    config = small_config(throttle=Throttle(rate=1000.0, burst=0, retry_after="none"))
    async with Emulator(config) as emu:
        with pytest.raises(RateLimited):
            await run(emu, tmp_path, 1000.0, [], RetryPolicy(attempts=3, backoff=0.001))
        assert emu.counters.count("image", 200) == 0


def test_endless_throttling_exits_5(tmp_path: Path) -> None:
    """The command exits 5 and says why when the server keeps throttling."""
    # An empty bucket refilling at 1000/s: every request is refused with "Retry-After: 0.001".
    config = small_config(throttle=Throttle(rate=1000.0, burst=0, retry_after="fractional"))
    with emulator_in_thread(config) as emu:
        path = write_config(emu, tmp_path)
        result = CliRunner().invoke(app, ["--config", str(path), "myframe", "--retries", "2"])
    assert result.exit_code == ExitCode.THROTTLED
    assert "kept throttling" in result.stderr
    assert "0 downloaded" in result.stderr
