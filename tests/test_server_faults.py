"""Faults of the server never lose or corrupt a photo: resets, truncations, 5xx, stalls,
malformed listings, expiring video URLs, dying tokens."""

from __future__ import annotations

from pathlib import Path

from aura_async.download.session import Runner
from aura_async.emulator import Emulator, Faults, FrameSpec
from aura_async.options import DownloadOptions, RunOptions, Timeouts
from aura_async.pacing.retry import RetryPolicy
from aura_async.report import Event, FrameReport, JobsQueued, LoggedIn, PageListed
from aura_async.seams import Seams

from .conftest import no_wait, settings_for, small_config
from .test_downloader import expected_files, files_on_disk

FAST_RETRIES = RetryPolicy(attempts=12, backoff=0.001, backoff_max=0.01)


async def run(
    emu: Emulator,
    tmp_path: Path,
    *,
    read_timeout: float = 60.0,
    on_event: object = None,
    **options: object,
) -> FrameReport:
    settings = settings_for(emu, tmp_path)
    run_options = RunOptions(
        download=DownloadOptions(policy=FAST_RETRIES, **options),  # type: ignore[arg-type]
        rate=None,
        timeouts=Timeouts(connect=5.0, read=read_timeout),
    )
    report = FrameReport("myframe")
    async with Runner(
        settings,
        run_options,
        on_event=on_event,  # type: ignore[arg-type]
        seams=Seams(sleep=no_wait),
    ) as runner:
        await runner.download(settings.frame("myframe"), report)
    return report


class TestFaultyServer:
    async def test_everything_arrives_intact_through_faults(self, tmp_path: Path) -> None:
        """10% resets, 5% truncations, 5% HTTP 500 and some stalls: every file byte-identical."""
        config = small_config(
            frames=[FrameSpec(photos=80, videos=3, live_photos=3, placeholders=2, hidden=0)],
            photo_size=48 * 1024,
            faults=Faults(
                seed=7, reset=0.10, truncate=0.05, http_500=0.05, stall=0.02, stall_seconds=5.0
            ),
        )
        async with Emulator(config) as emu:
            report = await run(emu, tmp_path, read_timeout=0.3, concurrency=6)
            faults = emu.counters.faults
            assert faults["reset"] > 0
            assert faults["truncate"] > 0
            assert faults["http_500"] > 0
            assert faults["stall"] > 0
            assert files_on_disk(tmp_path / "myframe") == expected_files(emu)
            assert report.failed == 0
            assert emu.counters.count("image", 206) > 0  # interrupted bodies were resumed

    async def test_malformed_listing_is_retried(self, tmp_path: Path) -> None:
        """A listing cut off mid-JSON is fetched again, not fatal."""
        config = small_config(faults=Faults(seed=1, malformed_listing=0.5))
        async with Emulator(config) as emu:
            await run(emu, tmp_path, page_size=5)
            assert emu.counters.faults["malformed_listing"] > 0
            assert files_on_disk(tmp_path / "myframe") == expected_files(emu)

    async def test_no_final_file_is_ever_wrong(self, tmp_path: Path) -> None:
        """With every body cut short, no final-named file exists after the run."""
        config = small_config(faults=Faults(truncate=1.0))
        async with Emulator(config) as emu:
            report = await run(emu, tmp_path)
        assert report.downloaded == 0
        assert report.failed > 0
        assert all(name.endswith(".part") for name in files_on_disk(tmp_path / "myframe"))


class TestVideoUrls:
    async def test_expired_urls_are_refreshed_once(self, tmp_path: Path) -> None:
        """Clips whose signed URLs expired are fetched with fresh ones from one re-listing."""
        config = small_config(video_url_ttl=-60.0)  # every URL in the first listing is stale
        async with Emulator(config) as emu:

            def renew(event: Event) -> None:
                # The first page is listed and its jobs not yet queued (downloads start
                # with the first page, before PlanReady): from now on listings sign good URLs.
                if isinstance(event, JobsQueued):
                    emu.config.video_url_ttl = 3600.0

            report = await run(emu, tmp_path, on_event=renew)
            clips = sum(n.endswith((".mov", ".mp4")) for n in expected_files(emu))
            assert emu.counters.count("video", 403) == clips
            assert emu.counters.count("assets") == 2
            assert report.failed == 0
            assert files_on_disk(tmp_path / "myframe") == expected_files(emu)

    async def test_still_refused_after_refresh_fails_that_clip(self, tmp_path: Path) -> None:
        """A clip refused again after the refresh fails alone; the stills still arrive."""
        config = small_config(faults=Faults(expire_video=1.0))
        async with Emulator(config) as emu:
            report = await run(emu, tmp_path)
            clips = sum(n.endswith((".mov", ".mp4")) for n in expected_files(emu))
            assert report.failed == clips
            assert report.downloaded == len(expected_files(emu)) - clips
            # one refresh per 403, twice at most (fewer when a re-listing signs the same URL)
            assert clips <= emu.counters.count("video", 403) <= 3 * clips


class TestTokens:
    async def test_dying_tokens_are_renewed(self, tmp_path: Path) -> None:
        """Tokens that die after a few reads are renewed by logging in again, and each
        login and listing page is told as an event (what --debug shows)."""
        config = small_config(token_requests=3)
        events: list[Event] = []
        async with Emulator(config) as emu:
            report = await run(emu, tmp_path, page_size=4, on_event=events.append)
            assert emu.counters.count("assets", 401) > 0
            assert emu.counters.count("login") >= 3
            assert report.failed == 0
            assert files_on_disk(tmp_path / "myframe") == expected_files(emu)
        logins = [e for e in events if isinstance(e, LoggedIn)]
        assert logins[0] == LoggedIn(relogin=False)
        assert len(logins) == emu.counters.count("login")
        assert all(e.relogin for e in logins[1:])
        pages = [e for e in events if isinstance(e, PageListed)]
        assert [e.page for e in pages] == list(range(1, len(pages) + 1))
        assert pages[-1].total == 29 + 2 + 2 + 2  # every row but the hidden one, placeholders too
        assert [e.more for e in pages] == [True] * (len(pages) - 1) + [False]
