"""The command as users meet it: exit codes, messages, --count, --list-frames, --json, demo."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import shellingham
import typer.main
from typer.testing import CliRunner

from aura_async.cli import ExitCode, app
from aura_async.cli.logfile import LOG_ROTATE_AT, rotate_log
from aura_async.emulator import Emulator, EmulatorConfig
from aura_async.store.state import State

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
        assert " from " in out  # which install runs, as pip --version says
        assert "(Python 3." in out


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
        assert "wrong email or password" in err
        assert "Wr0ng" not in err + out
        assert threaded_emulator.counters.count("login") == 1

    def test_a_password_that_is_a_word_of_the_error_leaves_it_readable(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """The password "wrong", refused: the line still says "wrong email or password"
        (it said "*** email or password")."""
        config = write_config(threaded_emulator, tmp_path)
        config.write_text(config.read_text().replace("demo-password", "wrong"))
        code, _, err = invoke("--config", str(config), "myframe")
        assert code == ExitCode.LOGIN
        assert "login refused (HTTP 475): wrong email or password" in err
        assert "***" not in err

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
        assert out == (
            "myframe: 33 assets (29 photos, 2 videos, 2 Live Photos): 37 files; "
            "2 placeholders (unfinished uploads) not counted\n"
        )
        assert threaded_emulator.counters.media_requests == 0
        code, out, _ = invoke("--config", str(config), "myframe", "--count", "--json")
        counted = json.loads(out)
        assert iso(counted.pop("started_at")) <= iso(counted.pop("finished_at"))
        assert counted == {
            "frame": "myframe",
            "exit_code": 0,
            "assets": 33,
            "photos": 29,
            "videos": 2,
            "live_photos": 2,
            "files": 37,
            "excluded": 0,
            "placeholders": 2,
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

    def test_count_and_verify_json_say_when_and_how(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """--count --json and --verify --json objects carry started_at, finished_at and
        exit_code too; a frame --count cannot find gets its object, exit 4."""
        config = write_config(threaded_emulator, tmp_path)
        invoke("--config", str(config), "myframe", "--rate", "0")
        victim = sorted(p for p in (tmp_path / "photos").iterdir() if p.is_file())[0]
        victim.unlink()
        code, out, _ = invoke("--config", str(config), "myframe", "--verify", "--json")
        assert code == ExitCode.FAILED
        (verified,) = [json.loads(line) for line in out.splitlines()]
        assert (verified["exit_code"], len(verified["missing"])) == (1, 1)
        iso(verified["started_at"])
        config.write_text(config.read_text().replace(first_frame_id(threaded_emulator), "bad"))
        code, out, _ = invoke("--config", str(config), "myframe", "--count", "--json")
        assert code == ExitCode.NOT_FOUND
        (counted,) = [json.loads(line) for line in out.splitlines()]
        assert (counted["frame"], counted["exit_code"]) == ("myframe", 4)
        assert "not found" in counted["error"]

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


def iso(text: str) -> datetime:
    """An ``--json`` timestamp, which must carry its UTC offset."""
    when = datetime.fromisoformat(text)
    assert when.tzinfo is not None
    return when


class TestJsonLog:
    def test_every_frame_object_says_when_and_how_it_ended(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """A frame's JSON has started_at, finished_at (ISO 8601 with offset) and exit_code,
        and the run recorded in the folder's state has them too."""
        config = write_config(threaded_emulator, tmp_path)
        before = datetime.now().astimezone().replace(microsecond=0)
        code, out, _ = invoke("--config", str(config), "myframe", "--json", "--rate", "0")
        assert code == ExitCode.OK
        (summary,) = [json.loads(line) for line in out.splitlines()]
        assert before <= iso(summary["started_at"]) <= iso(summary["finished_at"])
        assert summary["exit_code"] == 0
        with State.open(tmp_path / "photos") as state:
            (run,) = state.runs()
        assert run.summary["exit_code"] == 0
        assert run.summary["started_at"] == summary["started_at"]

    def test_wrong_password_still_writes_one_object(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """A refused login with --json prints one object for the run: no frame, exit 3, why."""
        config = write_config(threaded_emulator, tmp_path)
        config.write_text(config.read_text().replace("demo-password", "wrong"))
        code, out, _ = invoke("--config", str(config), "--all", "--json")
        assert code == ExitCode.LOGIN
        (run,) = [json.loads(line) for line in out.splitlines()]
        assert run["frame"] is None
        assert run["exit_code"] == 3
        assert "login refused (HTTP 475)" in run["error"]
        iso(run["started_at"])

    @pytest.mark.parametrize(
        "args",
        [
            ["kitchen"],  # no such section
            ["--concurrency", "0", "kitchen"],  # refused by the option parser
            ["--no-videos", "--videos-only", "kitchen"],
        ],
    )
    def test_usage_and_config_errors_write_one_object(
        self, tmp_path: Path, args: list[str]
    ) -> None:
        """A usage or config error with --json prints one object for the run, exit 2."""
        path = tmp_path / "c.ini"
        path.write_text("[login]\nemail = a\npassword = b\n", encoding="utf-8")
        path.chmod(0o600)
        code, out, err = invoke("--config", str(path), "--json", *args)
        assert code == ExitCode.USAGE
        (run,) = [json.loads(line) for line in out.splitlines()]
        assert (run["frame"], run["exit_code"]) == (None, 2)
        assert run["error"] in err

    def test_a_frame_stopped_by_an_error_is_an_error_to_the_end(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """A folder that cannot be made: the last line is an ERROR, the JSON says exit 1."""
        config = write_config(threaded_emulator, tmp_path)
        (tmp_path / "blocker").write_text("a file, not a folder")
        blocked = str(tmp_path / "blocker" / "photos")
        config.write_text(config.read_text().replace(str(tmp_path / "photos"), blocked, 1))
        code, out, err = invoke("--config", str(config), "myframe", "--json")
        assert code == ExitCode.FAILED
        assert " ERROR   myframe: 0 downloaded" in err.strip().splitlines()[-1]
        (summary,) = [json.loads(line) for line in out.splitlines()]
        assert summary["exit_code"] == 1
        assert f"cannot create {blocked}" in summary["error"]
        assert (
            f"check that this user can write to {blocked} (file_path of [myframe] in {config})"
        ) in err


class TestOneErrorStyle:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--concurrency", "0", "x"], "Invalid value for '--concurrency'"),
            (["--bogus"], "No such option: --bogus"),
            (["--since", "2025", "--until", "2024", "x"], "--since 2025 is after --until 2024"),
        ],
    )
    def test_command_line_errors_read_like_every_other(self, args: list[str], message: str) -> None:
        """Errors of the option parser are one 'aura-async: error:' line, exit 2."""
        code, _, err = invoke(*args)
        assert code == ExitCode.USAGE
        assert err.startswith(f"aura-async: error: {message}")
        assert len(err.strip().splitlines()) == 1
        assert "Usage:" not in err

    def test_login_is_not_a_frame(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """'aura-async login' says that [login] holds the credentials, not a frame."""
        config = write_config(threaded_emulator, tmp_path)
        code, _, err = invoke("--config", str(config), "login")
        assert code == ExitCode.USAGE
        assert "[login] holds the email and password, not a frame" in err

    def test_env_login_only_names_the_missing_file(self, tmp_path: Path) -> None:
        """With AURA_EMAIL/AURA_PASSWORD and no file, --count --all names the missing file."""
        env = {"AURA_EMAIL": "a@b", "AURA_PASSWORD": "pw", "AURA_CONFIG": str(tmp_path / "x")}
        code, _, err = invoke("--count", "--all", env=env)
        assert code == ExitCode.USAGE
        assert f"config file {tmp_path / 'x'} not found: --all" in err

    def test_refused_login_says_what_to_check(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """A 475 names the config file's [login] and what may be wrong."""
        config = write_config(threaded_emulator, tmp_path)
        config.write_text(config.read_text().replace("demo-password", "wrong"))
        code, _, err = invoke("--config", str(config), "myframe")
        assert code == ExitCode.LOGIN
        assert f"check the email and password in [login] of {config}" in err
        code, _, err = invoke("--config", str(config), "myframe", env={"AURA_PASSWORD": "nope"})
        assert "AURA_PASSWORD (set, so they override [login] of" in err

    def test_list_frames_is_a_table(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """--list-frames prints a header and aligned columns."""
        config = write_config(threaded_emulator, tmp_path)
        code, out, _ = invoke("--config", str(config), "--list-frames")
        assert code == ExitCode.OK
        header, row = out.splitlines()
        assert header.split() == ["FRAME", "ID", "NAME", "ASSETS", "CONFIG", "SECTION"]
        assert header.index("NAME") == row.index("Family Frame")
        assert header.index("ASSETS") + len("ASSETS") == row.index("33") + 2  # right-aligned
        assert header.index("CONFIG SECTION") == row.index("[myframe]")


class TestHelp:
    def test_options_are_grouped_with_examples(self) -> None:
        """--help shows examples, then the options in panels, and points at no README."""
        code, out, _ = invoke("--help")
        assert code == 0
        order = [
            "Examples:",
            "Frames and actions:",
            "Selection:",
            "Layout:",
            "Metadata:",
            "Network and throttling:",
            "Scripting:",
            "Maintenance:",
        ]
        places = [out.index(f"\n{title}\n") for title in order]
        assert places == sorted(places)
        assert "aura-async --setup" in out
        assert "README" not in out
        selection = out.split("\nSelection:\n")[1].split("\n\n")[0]
        assert "--since" in selection
        assert "--rate" not in selection

    def test_shell_completion(self) -> None:
        """--show-completion prints a script, and the completion it wires up knows options."""
        shown = runner.invoke(app, ["--show-completion", "bash"], prog_name="aura-async")
        assert shown.exit_code == 0
        assert "_AURA_ASYNC_COMPLETE=complete_bash" in shown.stdout
        result = runner.invoke(
            app,
            [],
            prog_name="aura-async",
            env={
                "_AURA_ASYNC_COMPLETE": "complete_bash",
                "COMP_WORDS": "aura-async --lis",
                "COMP_CWORD": "1",
            },
        )
        assert "--list-frames" in result.stdout
        result = runner.invoke(
            app,
            [],
            prog_name="aura-async",
            env={
                "_AURA_ASYNC_COMPLETE": "complete_bash",
                "COMP_WORDS": "aura-async --show-c",
                "COMP_CWORD": "1",
            },
        )
        assert result.stdout.split() == ["--show-completion"]

    def test_the_shell_named_wins(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A shell named after the option (or with ``=``) is the one the script is for,
        whichever shell this runs under."""
        monkeypatch.setattr(shellingham, "detect_shell", lambda: ("bash", "/bin/bash"))
        for args in (["--show-completion", "zsh"], ["--show-completion=zsh"]):
            shown = runner.invoke(app, args, prog_name="aura-async")
            assert shown.exit_code == 0
            assert shown.stdout.startswith("#compdef aura-async")

    def test_an_undetected_shell_falls_back_to_dollar_shell(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Under cron or a script the process tree may show no shell: $SHELL says which;
        without it, one error line says how to name one (Typer printed "Shell  not
        supported." and exit 1)."""

        def undetected() -> tuple[str, str]:
            raise shellingham.ShellDetectionFailure

        monkeypatch.setattr(shellingham, "detect_shell", undetected)
        monkeypatch.setenv("SHELL", "/usr/bin/fish")
        shown = runner.invoke(app, ["--show-completion"], prog_name="aura-async")
        assert shown.exit_code == 0
        assert "_AURA_ASYNC_COMPLETE=complete_fish" in shown.stdout
        monkeypatch.delenv("SHELL")
        code, out, err = invoke("--show-completion")
        assert (code, out) == (2, "")
        assert err.splitlines() == [
            "aura-async: error: cannot tell which shell this is; name it: --show-completion "
            "bash, zsh, fish, powershell or pwsh (see aura-async --help)"
        ]

    def test_the_sh_of_cron_falls_back_to_dollar_shell(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Under cron the process tree shows ``sh``, which has no completion: the login
        shell is the one meant."""
        monkeypatch.setattr(shellingham, "detect_shell", lambda: ("sh", "/bin/sh"))
        monkeypatch.setenv("SHELL", "/usr/bin/zsh")
        shown = runner.invoke(app, ["--show-completion"], prog_name="aura-async")
        assert shown.exit_code == 0
        assert shown.stdout.startswith("#compdef aura-async")
        monkeypatch.setenv("SHELL", "/bin/sh")
        code, _, err = invoke("--show-completion")
        assert code == 2
        assert err.startswith("aura-async: error: no completion for this shell (sh); ")

    def test_a_home_that_cannot_hold_it_is_one_error_line(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        home = tmp_path / "home"
        home.write_text("a file, not a folder")
        monkeypatch.setenv("HOME", str(home))
        code, out, err = invoke("--install-completion", "Bash")
        assert (code, out) == (2, "")
        assert err.startswith("aura-async: error: cannot install bash completion: ")
        assert len(err.splitlines()) == 1

    def test_a_shell_without_completion_is_one_error_line(self) -> None:
        code, out, err = invoke("--install-completion", "tcsh")
        assert (code, out) == (2, "")
        assert err.startswith("aura-async: error: no completion for shell 'tcsh': ")
        assert len(err.splitlines()) == 1

    def test_install_completion_writes_the_script(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("HOME", str(tmp_path))
        done = runner.invoke(app, ["--install-completion=fish"], prog_name="aura-async")
        script = tmp_path / ".config/fish/completions/aura-async.fish"
        assert done.exit_code == 0
        assert "complete_fish" in script.read_text()
        said = f"fish completion installed in {script}; it works in shells started from now"
        assert done.stdout.splitlines() == [said]

    def test_completion_options_are_built_only_when_used(self) -> None:
        """A run that names no completion option does not build them (they cost ~1 ms of
        every start); --help lists them."""
        command = typer.main.get_command(app)
        assert not any(p.name == "show_completion" for p in command.params)
        code, out, _ = invoke("--help")
        assert code == 0
        assert "--install-completion" in out


class TestSelectionMistakes:
    def test_count_follows_the_selection_and_says_files(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """--count applies --no-videos like a download would, and counts the same files as
        --dry-run."""
        config = write_config(threaded_emulator, tmp_path)
        code, out, _ = invoke("--config", str(config), "myframe", "--count", "--no-videos")
        assert code == ExitCode.OK
        assert "33 assets (29 photos, 2 videos, 2 Live Photos): 33 files selected, " in out
        assert "4 left out by the selection" in out
        code, out, err = invoke("--config", str(config), "myframe", "--dry-run", "--no-videos")
        assert len(out.splitlines()) == 33
        assert "dry run: 33 files would be downloaded, 0 already here, 4 left out" in err

    def test_unknown_uploader_names_the_known_ones(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """--uploader matching nobody is an error (exit 2) that lists the frame's uploaders,
        for a download and for --count."""
        config = write_config(threaded_emulator, tmp_path)
        for action in ("--count", "--dry-run"):
            code, _, err = invoke(
                "--config", str(config), "myframe", action, "--uploader", "Nobody"
            )
            assert code == ExitCode.USAGE
            assert (
                "--uploader 'Nobody' matches no uploader of this frame, so it selected nothing "
                "(uploaders: Aunt Mia, Dad, Grandma Rose)"
            ) in err
        code, _, err = invoke("--config", str(config), "myframe", "--count", "--uploader", "dad")
        assert code == ExitCode.OK
        assert "--uploader" not in err

    def test_dry_run_says_what_it_would_fetch(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """--dry-run ends with what a download would fetch, and its JSON says how many."""
        config = write_config(threaded_emulator, tmp_path)
        code, _, err = invoke("--config", str(config), "myframe", "--dry-run")
        assert code == ExitCode.OK
        assert (
            err.strip()
            .splitlines()[-1]
            .endswith(
                "myframe: dry run: 37 files would be downloaded, 0 already here, 2 placeholders; "
                "nothing was written"
            )
        )
        code, out, _ = invoke("--config", str(config), "myframe", "--dry-run", "--json")
        assert json.loads(out)["would_download"] == 37

    def test_demo_dry_run_points_at_no_folder(self, tmp_path: Path) -> None:
        """--demo --dry-run does not send the user to a folder it never made."""
        folder = tmp_path / "demo"
        code, _, err = invoke("--demo", "--dry-run", "--demo-dir", str(folder))
        assert code == ExitCode.OK
        assert "Files are in" not in err
        assert err.strip().splitlines()[-1].endswith("demo: dry run done; nothing was written")
        assert not folder.exists()


def test_write_exif_on_an_old_folder_says_it_applies_to_new_files(
    threaded_emulator: Emulator, tmp_path: Path
) -> None:
    """--write-exif on a folder downloaded without it says, once, that the files already
    there are left as they are."""
    config = write_config(threaded_emulator, tmp_path)
    invoke("--config", str(config), "myframe", "--rate", "0")
    code, _, err = invoke("--config", str(config), "myframe", "--write-exif")
    assert code == ExitCode.OK
    note = "--write-exif applies to new downloads only: the 37 files already in the folder"
    assert err.count(note) == 1
    code, _, err = invoke("--config", str(config), "myframe")
    assert "--write-exif" not in err


class TestLogRotation:
    def test_rotate_keeps_three(self, tmp_path: Path) -> None:
        """A full log becomes FILE.1, older ones shift up, the oldest beyond three goes."""
        log = tmp_path / "n.log"
        for n, text in enumerate(["one", "two", "three", "four"]):
            log.write_text(text * 10)
            assert rotate_log(log, limit=10)
            assert not log.exists()
            assert (tmp_path / "n.log.1").read_text() == text * 10
            assert sorted(p.name for p in tmp_path.iterdir())[-1] == f"n.log.{min(n + 1, 3)}"
        assert (tmp_path / "n.log.3").read_text() == "two" * 10
        log.write_text("small")
        assert not rotate_log(log, limit=10)
        assert not rotate_log(tmp_path / "none.log", limit=10)

    def test_a_big_log_file_is_rotated_when_a_run_starts(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """--log-file at 10 MiB: the run starts a fresh file and keeps the old as FILE.1."""
        config = write_config(threaded_emulator, tmp_path)
        log = tmp_path / "nightly.log"
        with log.open("wb") as handle:
            handle.truncate(LOG_ROTATE_AT)  # sparse: big without writing 10 MiB
        args = ["--config", str(config), "myframe", "-q", "--rate", "0"]  # no pacing to wait
        code, _, _ = invoke(*args, "--log-file", str(log))
        assert code == ExitCode.OK
        assert (tmp_path / "nightly.log.1").stat().st_size == LOG_ROTATE_AT
        lines = log.read_text().splitlines()
        assert "myframe: 37 downloaded" in lines[-1]
        assert len(lines) == 37 + 3  # this run's lines only: listing, plan, files, summary
