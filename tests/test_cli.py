"""The command as users meet it: exit codes, messages, --count, --list-frames, --json, demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aura_async.cli import ExitCode, app
from aura_async.emulator import Emulator, EmulatorConfig

from .conftest import first_frame_id, small_config, write_config

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


class TestUsage:
    def test_help_lists_options_and_exit_codes(self) -> None:
        """--help shows the options and the exit codes."""
        code, out, _ = invoke("--help")
        assert code == 0
        for option in (
            "--concurrency",
            "--years",
            "--count",
            "--all",
            "--list-frames",
            "--demo",
            "--rate",
        ):
            assert option in out
        assert "Exit codes" in out

    def test_no_frame_is_a_usage_error(self) -> None:
        """Nothing to do: exit 2 with a hint."""
        code, _, err = invoke()
        assert code == ExitCode.USAGE
        assert err.startswith("aura-async: error: name a frame")

    @pytest.mark.parametrize(
        "args",
        [
            ["--no-videos", "--videos-only", "x"],
            ["--all", "x"],
            ["--demo", "x"],
            ["--concurrency", "0", "x"],
        ],
    )
    def test_conflicting_flags(self, args: list[str]) -> None:
        """Flags that exclude each other are usage errors (exit 2)."""
        assert invoke(*args)[0] == ExitCode.USAGE

    def test_missing_config_file(self, tmp_path: Path) -> None:
        """A missing config file: one line naming it, exit 2, no traceback."""
        code, _, err = invoke("--config", str(tmp_path / "none.ini"), "myframe")
        assert code == ExitCode.USAGE
        assert str(tmp_path / "none.ini") in err
        assert len(err.strip().splitlines()) == 1
        assert "Traceback" not in err

    def test_config_from_env(self, tmp_path: Path) -> None:
        """AURA_CONFIG names the config file."""
        code, _, err = invoke("myframe", env={"AURA_CONFIG": str(tmp_path / "env.ini")})
        assert code == ExitCode.USAGE
        assert "env.ini" in err

    def test_missing_section(self, tmp_path: Path) -> None:
        """An unknown frame: exit 2 naming the file and the section."""
        path = tmp_path / "c.ini"
        path.write_text("[login]\nemail = a\npassword = b\n", encoding="utf-8")
        path.chmod(0o600)
        code, _, err = invoke("--config", str(path), "kitchen")
        assert code == ExitCode.USAGE
        assert "[kitchen]" in err
        assert str(path) in err

    def test_version(self) -> None:
        """--version prints the version."""
        code, out, _ = invoke("--version")
        assert code == 0
        assert out.startswith("aura-async ")


class TestAgainstEmulator:
    def test_download_then_nothing(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """A run downloads everything and ends with the summary; a second fetches nothing."""
        config = write_config(threaded_emulator, tmp_path)
        code, _, err = invoke("--config", str(config), "myframe", "--rate", "0")
        assert code == ExitCode.OK
        last = err.strip().splitlines()[-1]
        assert "myframe: 37 downloaded, 0 skipped, 0 failed" in last
        threaded_emulator.counters.reset()
        code, _, err = invoke("--config", str(config), "myframe")
        assert code == ExitCode.OK
        assert "0 downloaded, 37 skipped" in err.strip().splitlines()[-1]
        assert threaded_emulator.counters.media_requests == 0

    def test_wrong_password_exits_3(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """A refused login: exit 3, one clear line, no password echoed."""
        config = write_config(threaded_emulator, tmp_path)
        text = config.read_text().replace("demo-password", "Wr0ng%pa$$")
        config.write_text(text)
        code, out, err = invoke("--config", str(config), "myframe")
        assert code == ExitCode.LOGIN
        assert "email or password incorrect" in err
        assert "Wr0ng" not in err + out
        assert threaded_emulator.counters.count("login") == 1

    def test_unknown_frame_exits_4(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """A frame id Aura does not know: exit 4, with a pointer to --list-frames."""
        config = write_config(threaded_emulator, tmp_path)
        config.write_text(config.read_text().replace(first_frame_id(threaded_emulator), "bad-id"))
        code, _, err = invoke("--config", str(config), "myframe")
        assert code == ExitCode.NOT_FOUND
        assert "--list-frames" in err

    def test_count(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """--count prints the number of photos and downloads nothing."""
        config = write_config(threaded_emulator, tmp_path)
        code, out, _ = invoke("--config", str(config), "myframe", "--count")
        assert code == ExitCode.OK
        assert out.startswith("myframe: 33 photos (2 videos, 2 Live Photos; 2 unfinished")
        assert threaded_emulator.counters.media_requests == 0
        code, out, _ = invoke("--config", str(config), "myframe", "--count", "--json")
        assert json.loads(out) == {
            "frame": "myframe",
            "assets": 33,
            "photos": 29,
            "videos": 2,
            "live_photos": 2,
            "placeholders": 2,
            "files": 37,
            "excluded": 0,
        }

    def test_list_frames_needs_only_login(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """--list-frames prints every frame's id and name from a [login]-only config."""
        path = tmp_path / "c.ini"
        em = threaded_emulator
        path.write_text(
            f"[login]\nemail = {em.config.email}\npassword = {em.config.password}\n"
            f"api_url = {em.api_url}\nimage_url = {em.image_url}\n"
        )
        path.chmod(0o600)
        code, out, _ = invoke("--config", str(path), "--list-frames")
        assert code == ExitCode.OK
        frame_id = first_frame_id(em)
        assert f"{frame_id}  Family Frame  " in out
        assert "(not in config)" in out

    def test_json_and_all(self, tmp_path: Path) -> None:
        """--all --json prints one JSON object per frame on stdout, logs on stderr."""
        config_obj: EmulatorConfig = small_config()
        from aura_async.emulator import FrameSpec
        from aura_async.emulator.thread import emulator_in_thread

        config_obj.frames.append(
            FrameSpec(name="Cabin", photos=3, videos=0, live_photos=0, placeholders=0, hidden=0)
        )
        with emulator_in_thread(config_obj) as emu:
            config = write_config(emu, tmp_path)
            code, out, err = invoke("--config", str(config), "--all", "--json", "--rate", "0")
            assert emu.counters.count("login") == 1
        assert code == ExitCode.OK
        objects = [json.loads(line) for line in out.splitlines()]
        assert [(o["frame"], o["downloaded"]) for o in objects] == [("myframe", 37), ("frame2", 3)]
        assert set(objects[0]) >= {"skipped", "failed", "bytes", "seconds", "throttled"}
        assert "downloaded" in err

    def test_dry_run(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """--dry-run prints the files it would fetch and writes none."""
        config = write_config(threaded_emulator, tmp_path)
        code, out, _ = invoke("--config", str(config), "myframe", "--dry-run")
        assert code == ExitCode.OK
        assert len(out.splitlines()) == 37
        assert all(line.startswith("would download ") for line in out.splitlines())
        assert not (tmp_path / "photos").exists()

    def test_quiet_prints_nothing_on_success(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """--quiet keeps a successful cron run silent, and --log-file still gets every line."""
        config = write_config(threaded_emulator, tmp_path)
        log = tmp_path / "run.log"
        code, out, err = invoke(
            "--config", str(config), "myframe", "-q", "--rate", "0", "--log-file", str(log)
        )
        assert code == ExitCode.OK
        assert (out, err) == ("", "")
        lines = log.read_text().splitlines()
        assert "downloaded" in lines[-2]
        assert "37 downloaded" in lines[-1]

    def test_failed_files_exit_1(self, tmp_path: Path) -> None:
        """Files that fail after retries give exit 1 and are named."""
        from aura_async.emulator.thread import emulator_in_thread

        with emulator_in_thread(small_config()) as emu:
            gone = next(iter(emu.library.images))
            del emu.library.images[gone]
            config = write_config(emu, tmp_path)
            code, _, err = invoke("--config", str(config), "myframe", "--rate", "0")
        assert code == ExitCode.FAILED
        assert "failed" in err
        assert "1 failed" in err.strip().splitlines()[-1]

    def test_world_readable_config_warns(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """A config readable by others gets a warning, and the run goes on."""
        config = write_config(threaded_emulator, tmp_path)
        config.chmod(0o644)
        code, _, err = invoke("--config", str(config), "myframe", "--count")
        assert code == ExitCode.OK
        assert "chmod 600" in err


def test_demo(tmp_path: Path) -> None:
    """--demo downloads the built-in emulator's frame; a second demo downloads nothing."""
    folder = tmp_path / "demo"
    code, _, err = invoke("--demo", "--demo-dir", str(folder), "--rate", "0", "-j", "8")
    assert code == ExitCode.OK
    assert "demo: done" in err
    files = [p for p in folder.rglob("*") if p.is_file() and ".aura-async" not in p.parts]
    assert len(files) == 238 + 6 * 2 + 6 * 2
    code, _, err = invoke("--demo", "--demo-dir", str(folder), "--rate", "0")
    assert code == ExitCode.OK
    assert f"0 downloaded, {len(files)} skipped" in err


class TestMoreActions:
    def test_list_frames_json_and_count_of_unknown_frame(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """--list-frames --json gives one object per frame; --count of a bad id exits 4."""
        config = write_config(threaded_emulator, tmp_path)
        code, out, _ = invoke("--config", str(config), "--list-frames", "--json")
        assert code == ExitCode.OK
        frames = [json.loads(line) for line in out.splitlines()]
        assert frames[0] == {
            "id": first_frame_id(threaded_emulator),
            "name": "Family Frame",
            "num_assets": 33,
            "section": "myframe",
        }
        config.write_text(config.read_text().replace(first_frame_id(threaded_emulator), "bad"))
        code, _, err = invoke("--config", str(config), "myframe", "--count")
        assert code == ExitCode.NOT_FOUND
        assert "not found" in err

    def test_verify_before_any_download(self, tmp_path: Path) -> None:
        """--verify on a folder never downloaded says so and exits 0, with no network."""
        path = tmp_path / "c.ini"
        path.write_text(
            f"[login]\nemail = a\npassword = b\n[f]\nframe_id = x\nfile_path = {tmp_path / 'f'}\n"
        )
        path.chmod(0o600)
        code, _, err = invoke("--config", str(path), "f", "--verify")
        assert code == ExitCode.OK
        assert "nothing to verify yet" in err

    def test_unwritable_folder_exits_1(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """A file_path that cannot be created: one line naming it, exit 1."""
        config = write_config(threaded_emulator, tmp_path)
        (tmp_path / "blocker").write_text("a file, not a folder")
        config.write_text(
            config.read_text().replace(
                str(tmp_path / "photos"), str(tmp_path / "blocker" / "photos"), 1
            )
        )
        code, _, err = invoke("--config", str(config), "myframe")
        assert code == ExitCode.FAILED
        assert f"cannot create {tmp_path / 'blocker' / 'photos'}" in err
