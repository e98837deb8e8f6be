"""--setup: the config file written from a login, where a run reads it, mode 600."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import stat
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aura_async.cli import ExitCode, app
from aura_async.cli.setup import login_block, propose_folder, section_block, slug, unique
from aura_async.config import Settings, load_settings
from aura_async.emulator import Emulator, EmulatorConfig, FrameSpec
from aura_async.models import Frame

from .conftest import small_config

runner = CliRunner()
AURA = Path(sys.executable).parent / "aura-async"


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return small_config(
        frames=[
            FrameSpec(photos=5, videos=1, live_photos=0, placeholders=0, hidden=0),
            FrameSpec(
                name="Grandma's Kitchen",
                photos=2,
                videos=0,
                live_photos=0,
                placeholders=0,
                hidden=0,
            ),
        ]
    )


def server_env(emu: Emulator, **more: str) -> dict[str, str]:
    """The emulator's URLs (so setup logs in there), and more variables."""
    return {"AURA_API_URL": emu.api_url, "AURA_IMAGE_URL": emu.image_url, **more}


def scripted_env(emu: Emulator, **more: str) -> dict[str, str]:
    """AURA_EMAIL and AURA_PASSWORD too: setup asks nothing."""
    return server_env(emu, AURA_EMAIL=emu.config.email, AURA_PASSWORD=emu.config.password, **more)


def setup(*args: str, env: dict[str, str], input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--setup", *args], env=env, input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def frame_ids(emu: Emulator) -> list[str]:
    return list(emu.library.frames)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Family Frame", "family-frame"),
        ("Grandma's Kitchen", "grandmas-kitchen"),
        ("  Ünïcode & more!! ", "ünïcode-more"),
        ("???", ""),
    ],
)
def test_slug(name: str, expected: str) -> None:
    """Section names from frame names: lowercase words joined by dashes."""
    assert slug(name) == expected


def test_unique_proposals() -> None:
    """A taken or empty name gets a number; folders are proposed beside the last one."""
    assert unique("kitchen", {"kitchen", "kitchen-2"}) == "kitchen-3"
    assert unique("", set()) == "frame"
    assert propose_folder("/volume1/photos", "kitchen") == "/volume1/photos/kitchen"


def test_written_text_loads_as_written(tmp_path: Path) -> None:
    """What setup writes loads back: the password verbatim (% and $), the frame's folder."""
    settings = Settings(
        email="me@example.com",
        password="pa%$word#1",
        api_url="http://127.0.0.1:9/v5",
        image_url="https://imgproxy.pushd.com",
    )
    text = login_block(settings) + "\n" + section_block("k", Frame("id-1", "K"), "~/p/k")
    path = tmp_path / "c.ini"
    path.write_text(text)
    path.chmod(0o600)
    loaded = load_settings(path, {})
    assert (loaded.password, loaded.api_url) == ("pa%$word#1", "http://127.0.0.1:9/v5")
    assert "image_url" not in text  # Aura's own is the default
    assert loaded.frame("k").file_path == Path.home() / "p" / "k"


class TestScripted:
    def test_writes_where_the_run_reads_with_mode_600(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """From AURA_EMAIL/AURA_PASSWORD, no question: every frame, in $AURA_CONFIG, mode
        600; the next run works from it."""
        path = tmp_path / "etc" / "aura.ini"
        code, out, err = setup(env=scripted_env(threaded_emulator, AURA_CONFIG=str(path)))
        assert code == ExitCode.OK
        assert out == ""
        assert "?" not in err  # nothing asked
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        settings = load_settings(path, {})
        assert settings.frame_names == ["family-frame", "grandmas-kitchen"]
        assert [settings.frame(n).frame_id for n in settings.frame_names] == frame_ids(
            threaded_emulator
        )
        assert settings.warnings == ()
        result = runner.invoke(app, ["--count", "--all"], env={"AURA_CONFIG": str(path)})
        assert result.exit_code == ExitCode.OK
        assert "family-frame: 6 assets" in result.stdout

    def test_default_place(
        self, threaded_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without --config or $AURA_CONFIG: ~/etc/aura/credentials.ini, the run's default."""
        monkeypatch.setenv("HOME", str(tmp_path))
        code, _, err = setup(env=scripted_env(threaded_emulator))
        assert code == ExitCode.OK
        path = tmp_path / "etc" / "aura" / "credentials.ini"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert f"wrote {path} (mode 600)" in err
        assert "next: aura-async family-frame" in err  # the default place needs no --config

    def test_config_dash_prints_it(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """--config - prints the config on stdout and writes no file."""
        code, out, _ = setup("--config", "-", env=scripted_env(threaded_emulator))
        assert code == ExitCode.OK
        assert out.startswith("# Written by aura-async --setup.")
        path = tmp_path / "printed.ini"
        path.write_text(out)
        path.chmod(0o600)
        assert load_settings(path, {}).frame_names == ["family-frame", "grandmas-kitchen"]
        assert not (tmp_path / "-").exists()

    def test_wrong_password_writes_nothing(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """A refused login: exit 3, and no file."""
        path = tmp_path / "c.ini"
        env = server_env(threaded_emulator, AURA_EMAIL="demo@example.com", AURA_PASSWORD="x!")
        code, _, err = setup("--config", str(path), env=env)
        assert code == ExitCode.LOGIN
        assert "login refused (HTTP 475)" in err
        assert "nothing was written" in err
        assert not path.exists()

    def test_no_answer_is_a_clear_error(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """Without a terminal's answers or the variables: exit 2 saying what it needs."""
        code, _, err = setup("--config", str(tmp_path / "c.ini"), env=server_env(threaded_emulator))
        assert code == ExitCode.USAGE
        assert "set AURA_EMAIL and AURA_PASSWORD" in err


class TestSecondRun:
    def test_offers_the_frames_not_in_the_file(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """A second run keeps the file as it was and offers only the frames it lacks, with a
        folder beside the existing ones."""
        first, second = frame_ids(threaded_emulator)
        path = tmp_path / "c.ini"
        before = (
            "# my comments stay\n[login]\n"
            f"email = {threaded_emulator.config.email}\n"
            f"password = {threaded_emulator.config.password}\n"
            f"api_url = {threaded_emulator.api_url}\nimage_url = {threaded_emulator.image_url}\n"
            f"\n[kitchen]\nframe_id = {first}\nfile_path = /volume1/aura/kitchen\n"
        )
        path.write_text(before)
        path.chmod(0o644)
        # Answers: add the new frame? (Enter: yes), its section name, its folder (Enter).
        code, _, err = setup("--config", str(path), env={}, input="\ngrandma\n\n")
        assert code == ExitCode.OK
        assert "frame 'Family Frame' is [kitchen] already" in err
        text = path.read_text()
        assert text.startswith(before.rstrip("\n"))
        assert f"[grandma]\nframe_id = {second}\nfile_path = /volume1/aura/grandma\n" in text
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        code, _, err = setup("--config", str(path), env={})
        assert code == ExitCode.OK
        assert "nothing to add" in err
        assert path.read_text() == text


class TestWhatItWillNotDo:
    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("[login\nemail = a\n", "not a valid INI file"),
            ("[login]\nemail = a@b\n", "[login] lacks the email or the password"),
        ],
    )
    def test_a_file_it_cannot_extend_stays_as_it_is(
        self, threaded_emulator: Emulator, tmp_path: Path, text: str, message: str
    ) -> None:
        """A broken file, or a [login] without a password, is an error (exit 2), untouched."""
        path = tmp_path / "c.ini"
        path.write_text(text)
        code, _, err = setup("--config", str(path), env=scripted_env(threaded_emulator))
        assert code == ExitCode.USAGE
        assert message in err
        assert path.read_text() == text

    def test_a_folder_it_cannot_write_in(self, threaded_emulator: Emulator, tmp_path: Path) -> None:
        """Where the file cannot be written: one line naming it, exit 1."""
        (tmp_path / "blocker").write_text("a file, not a folder")
        path = tmp_path / "blocker" / "c.ini"
        code, _, err = setup("--config", str(path), env=scripted_env(threaded_emulator))
        assert code == ExitCode.FAILED
        assert f"cannot write {path}" in err

    def test_questions_are_asked_again_until_answered(
        self, threaded_emulator: Emulator, tmp_path: Path
    ) -> None:
        """A yes/no answer that is neither, and a section name that is taken, are asked
        again; no to a frame leaves it out."""
        path = tmp_path / "c.ini"
        answers = "\n".join(
            [
                threaded_emulator.config.email,  # the password comes from AURA_PASSWORD
                "maybe",  # add frame 1? (neither)
                "yes",
                "login",  # taken: [login] is the credentials
                "home",
                str(tmp_path / "home"),
                "n",  # frame 2
            ]
        )
        env = server_env(threaded_emulator, AURA_PASSWORD=threaded_emulator.config.password)
        code, _, err = setup("--config", str(path), env=env, input=answers + "\n")
        assert code == ExitCode.OK
        assert "'login' is empty or taken" in err
        assert err.count("Add frame 'Family Frame' (6 assets)? [Y/n]") == 2
        assert load_settings(path, {}).frame_names == ["home"]


class Terminal:
    """``aura-async --setup`` on a pseudo-terminal that is its controlling terminal (getpass
    reads the password from /dev/tty, and Ctrl-C is the terminal's to send)."""

    def __init__(self, emu: Emulator, *args: str) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 250, 0, 0))

        def controlling_terminal() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        env = {k: v for k, v in os.environ.items() if not k.startswith("AURA_")}
        env.update(server_env(emu), TERM="xterm")
        self.proc = subprocess.Popen(
            [str(AURA), "--setup", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            preexec_fn=controlling_terminal,
        )
        os.close(slave)
        self.seen = bytearray()

    def expect(self, text: str) -> None:
        """Wait until the terminal shows ``text``."""
        deadline = time.monotonic() + 15
        while text.encode() not in self.seen:
            timeout = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.master], [], [], timeout)
            assert ready, f"no {text!r} on the terminal; it shows {bytes(self.seen)!r}"
            self.seen.extend(os.read(self.master, 4096))

    def type(self, text: str) -> None:
        """Type ``text`` and Enter."""
        os.write(self.master, text.encode() + b"\r")

    def finish(self) -> int:
        """Read what is left until the program and its terminal are gone; its exit code."""
        with contextlib.suppress(OSError):  # EIO once the session has ended
            while select.select([self.master], [], [], 15)[0]:
                chunk = os.read(self.master, 4096)
                if not chunk:
                    break
                self.seen.extend(chunk)
        return self.proc.wait(timeout=15)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def test_on_a_terminal_the_password_is_not_shown(
    threaded_emulator: Emulator, tmp_path: Path
) -> None:
    """On a terminal: the questions, the password typed without echo, the file written."""
    path = tmp_path / "c.ini"
    terminal = Terminal(threaded_emulator, "--config", str(path))
    try:
        for question, reply in [
            ("email", threaded_emulator.config.email),
            # The space after the colon comes from getpass, once it has turned echo off.
            ("password (not shown): ", threaded_emulator.config.password),
            ("Add frame 'Family Frame' (6 assets)?", ""),
            ("section name", ""),
            ("folder for its photos [~/Pictures/aura/family-frame]:", str(tmp_path / "fam")),
            ('Add frame "Grandma\'s Kitchen"', "n"),
        ]:
            terminal.expect(question)
            terminal.type(reply)
        assert terminal.finish() == 0
    finally:
        terminal.close()
    assert b"(mode 600)" in terminal.seen
    assert threaded_emulator.config.password.encode() not in terminal.seen
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings = load_settings(path, {})
    assert settings.frame_names == ["family-frame"]
    assert settings.frame("family-frame").file_path == tmp_path / "fam"


def test_ctrl_c_at_a_question_writes_nothing(threaded_emulator: Emulator, tmp_path: Path) -> None:
    """Ctrl-C while setup asks: one line saying nothing was written, exit 130, no file."""
    path = tmp_path / "c.ini"
    terminal = Terminal(threaded_emulator, "--config", str(path))
    try:
        terminal.expect("email: ")
        os.write(terminal.master, b"\x03")
        assert terminal.finish() == ExitCode.INTERRUPTED
    finally:
        terminal.close()
    assert b"interrupted: nothing was written" in terminal.seen
    assert b"Traceback" not in terminal.seen
    assert not path.exists()
