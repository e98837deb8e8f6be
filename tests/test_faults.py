"""Never lose or corrupt a photo: faults, hostile data, locks, secrets, video URL refresh."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from aura_async.cli import ExitCode, app
from aura_async.cli.console import Display
from aura_async.download.session import Runner
from aura_async.emulator import Emulator, EmulatorConfig, Faults, FrameSpec
from aura_async.options import DownloadOptions, RunOptions, Timeouts
from aura_async.pacing.retry import RetryPolicy
from aura_async.plan.templates import Templates
from aura_async.report import Event, FrameReport, PlanReady
from aura_async.seams import Seams
from aura_async.store.lock import FolderLock

from .conftest import first_frame_id, settings_for, small_config, write_config
from .test_downloader import expected_files, files_on_disk

FAST_RETRIES = RetryPolicy(attempts=12, backoff=0.001, backoff_max=0.01)


async def no_wait(seconds: float) -> None:
    """An injected sleep: retry waits pass at once."""
    await asyncio.sleep(0)


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
                if isinstance(event, PlanReady):
                    emu.config.video_url_ttl = 3600.0  # the re-listing signs good URLs

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


class TestHostileData:
    async def test_hostile_names_stay_inside_the_folder(self, tmp_path: Path) -> None:
        """Ids, names and dates with '/', '..', NUL and reserved names land inside, sanitised."""
        config = small_config(
            frames=[FrameSpec(photos=4, videos=0, live_photos=0, placeholders=0, hidden=0)]
        )
        async with Emulator(config) as emu:
            frame = emu.library.frames[first_frame_id(emu)]
            hostile = [
                ("../../escape", "..", "../../x.jpg"),
                ("a/b\\c", "CON", "aux.jpg"),
                ("x" * 300, "2020-01-01T00:00:00.000Z", "\x00.jpg"),
                ("..", "../..", "evil/../../y.jpeg"),
            ]
            for raw, (asset_id, taken_at, name) in zip(frame.assets, hostile, strict=True):
                emu.library.images[name] = emu.library.images.pop(raw["file_name"])
                raw.update(id=asset_id, taken_at=taken_at, file_name=name)
            report = await run(emu, tmp_path / "inside", layout=Templates(folder="{year}"))
        assert report.failed == 0
        assert report.downloaded == 4
        root = (tmp_path / "inside" / "myframe").resolve()
        files = list_files(tmp_path)
        assert len(files) == 4
        assert all(root in p.resolve().parents for p in files)


def list_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and ".aura-async" not in p.parts]


class TestLock:
    def test_locked_folder_exits_6(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """A run on a folder another run holds exits 6 and fetches nothing."""
        config = write_config(threaded_emulator, tmp_path)
        with FolderLock(tmp_path / "photos"):
            result = CliRunner().invoke(app, ["--config", str(config), "myframe"])
        assert result.exit_code == ExitCode.LOCKED
        assert "another aura-async run (pid" in result.stderr
        assert threaded_emulator.counters.media_requests == 0


class TestSecrets:
    def test_debug_output_shows_no_password_or_token(self, tmp_path: Path) -> None:
        """Neither the password nor the auth token appears in any output, --debug included."""
        from aura_async.emulator.thread import emulator_in_thread

        password = "S3cr3t%pa$$word"
        with emulator_in_thread(
            small_config(password=password, faults=Faults(http_500=0.2))
        ) as emu:
            config = write_config(emu, tmp_path)
            log = tmp_path / "log.txt"
            result = CliRunner().invoke(
                app,
                [
                    "--config",
                    str(config),
                    "myframe",
                    "--debug",
                    "--log-file",
                    str(log),
                    "--rate",
                    "0",
                    "--json",
                ],
            )
            tokens = list(emu.tokens)
        assert tokens
        output = result.stdout + result.stderr + log.read_text()
        assert "downloaded" in output
        for secret in [password, *tokens]:
            assert secret not in output

    def test_display_redacts_tracebacks(self) -> None:
        """Any line shown, such as a traceback, has the secrets replaced."""
        from io import StringIO

        out = StringIO()
        display = Display(out, interactive=False)
        display.secrets.update({"hunter22", "tok-abc"})
        display.error("Traceback: login(password='hunter22') header tok-abc")
        assert "hunter22" not in out.getvalue()
        assert "tok-abc" not in out.getvalue()
        assert "***" in out.getvalue()


class TestTokens:
    async def test_dying_tokens_are_renewed(self, tmp_path: Path) -> None:
        """Tokens that die after a few reads are renewed by logging in again."""
        config = small_config(token_requests=3)
        async with Emulator(config) as emu:
            report = await run(emu, tmp_path, page_size=4)
            assert emu.counters.count("assets", 401) > 0
            assert emu.counters.count("login") >= 3
            assert report.failed == 0
            assert files_on_disk(tmp_path / "myframe") == expected_files(emu)


def test_emulator_config_roundtrip(tmp_path: Path) -> None:
    """The emulator's CLI builds the same knobs as its Python API."""
    from aura_async.emulator.__main__ import _parser, config_from_args

    args = _parser().parse_args(
        [
            "--photos",
            "3",
            "--fault-reset",
            "0.1",
            "--throttle-rate",
            "5",
            "--retry-after",
            "date",
            "--no-range",
        ]
    )
    config: EmulatorConfig = config_from_args(args)
    assert config.frames[0].photos == 3
    assert config.faults.reset == 0.1
    assert config.throttle.rate == 5
    assert config.throttle.retry_after == "date"
    assert config.range_support is False


def test_all_goes_on_past_a_locked_folder(tmp_path: Path) -> None:
    """With --all, a frame whose folder is locked is reported and the next frame still runs;
    the JSON line of the locked frame says why."""
    import json

    from aura_async.emulator.thread import emulator_in_thread

    config = small_config()
    config.frames.append(
        FrameSpec(name="Cabin", photos=3, videos=0, live_photos=0, placeholders=0, hidden=0)
    )
    with emulator_in_thread(config) as emu:
        path = write_config(emu, tmp_path)
        with FolderLock(tmp_path / "photos"):
            result = CliRunner().invoke(
                app, ["--config", str(path), "--all", "--json", "--rate", "0"]
            )
    assert result.exit_code == ExitCode.LOCKED
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert "another aura-async run" in first["error"]
    assert (second["frame"], second["downloaded"], second["error"]) == ("frame2", 3, None)
