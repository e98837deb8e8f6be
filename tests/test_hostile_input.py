"""Hostile data and secrets: names that try to leave the folder, and passwords and tokens
that must never be shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from aura_async.cli import ExitCode, app
from aura_async.cli.console import Display
from aura_async.emulator import Emulator, Faults, FrameSpec
from aura_async.plan.templates import Templates
from aura_async.seams import Seams

from .conftest import first_frame_id, no_wait, small_config, write_config
from .test_server_faults import run


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


URL_WITH_PASSWORD = "http://mom:S3cr3t@127.0.0.1:1"
"""A base URL with user:password@, where nothing listens (port 1)."""


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
                obj=Seams(sleep=no_wait),  # retries of the HTTP 500s wait for nothing
            )
            tokens = list(emu.tokens)
        assert tokens
        output = result.stdout + result.stderr + log.read_text()
        assert "downloaded" in output
        for secret in [password, *tokens]:
            assert secret not in output

    @pytest.mark.parametrize("debug", [[], ["--debug"]], ids=["plain", "debug"])
    def test_a_password_in_the_api_url_never_shows(self, tmp_path: Path, debug: list[str]) -> None:
        """An api_url with user:password@ where nothing listens: the error (and with --debug
        every line, and the log file) names the host but never the password or user."""
        config = tmp_path / "c.ini"
        config.write_text(
            "[login]\nemail = a@b.c\npassword = pw-12345\n"
            f"api_url = {URL_WITH_PASSWORD}/v5\nimage_url = {URL_WITH_PASSWORD}\n\n"
            f"[myframe]\nframe_id = f1\nfile_path = {tmp_path / 'photos'}\n"
        )
        config.chmod(0o600)
        log = tmp_path / "log.txt"
        result = CliRunner().invoke(
            app, ["--config", str(config), "myframe", "--log-file", str(log), *debug]
        )
        assert result.exit_code == ExitCode.FAILED
        assert "cannot connect to http://***@127.0.0.1:1/v5/login.json" in result.stderr
        output = result.stdout + result.stderr + log.read_text()
        assert "S3cr3t" not in output
        assert "mom" not in output

    def test_passwords_in_urls_never_show_in_debug_lines(self, tmp_path: Path) -> None:
        """A run whose api_url and image_url carry user:password@: the retries, failures and
        every other --debug line show the URLs without them."""
        from aura_async.emulator.thread import emulator_in_thread

        with emulator_in_thread(small_config(faults=Faults(seed=3, http_500=0.3))) as emu:
            del emu.library.images[next(iter(emu.library.images))]  # one file fails: 404
            config = write_config(emu, tmp_path)
            text = config.read_text().replace("http://", "http://mom:S3cr3t@")
            config.write_text(text)
            log = tmp_path / "log.txt"
            args = ["--config", str(config), "myframe", "--debug", "--rate", "0", "--json"]
            result = CliRunner().invoke(
                app,
                [*args, "--log-file", str(log), "--retries", "3"],
                obj=Seams(sleep=no_wait),  # retries of the HTTP 500s wait for nothing
            )
        assert result.exit_code == ExitCode.FAILED
        output = result.stdout + result.stderr + log.read_text()
        assert "retrying " in output
        assert "not found (HTTP 404): http://***@127.0.0.1:" in output
        assert "S3cr3t" not in output
        assert "mom:" not in output

    @pytest.mark.parametrize(
        "url",
        [
            "ftp://mom:S3cr3t@host/v5",
            "http://mom:S3cr3t@api.example/v5",
            "http://mom:S3#cr3t@127.0.0.1/v5",
        ],
    )
    @pytest.mark.parametrize("source", ["file", "env"])
    def test_refused_urls_never_show_a_password(
        self, tmp_path: Path, url: str, source: str
    ) -> None:
        """An api_url refused by validation, from the file or AURA_API_URL: one line, exit
        2, without the user or password."""
        config = tmp_path / "c.ini"
        api = f"api_url = {url}\n" if source == "file" else ""
        config.write_text(
            f"[login]\nemail = a@b.c\npassword = pw-12345\n{api}\n"
            f"[myframe]\nframe_id = f1\nfile_path = {tmp_path / 'photos'}\n"
        )
        config.chmod(0o600)
        env = {"AURA_API_URL": url} if source == "env" else None
        result = CliRunner().invoke(app, ["--config", str(config), "myframe"], env=env)
        assert result.exit_code == ExitCode.USAGE
        assert "api_url" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "S3" not in result.stderr
        assert "mom" not in result.stderr

    def test_a_password_that_is_a_word_of_our_own_line_leaves_it_whole(self) -> None:
        """The password "wrong": the line aura-async wrote whole ("wrong email or
        password") is shown as it is; the same word from anywhere else (an exception, or
        anything made from that line) is still hidden."""
        from io import StringIO

        from aura_async.cli.console import Said

        out = StringIO()
        display = Display(out, interactive=False)
        display.secrets.add("wrong")
        display.error(Said("login refused (HTTP 475): wrong email or password"))
        display.error("ValueError: password='wrong'")
        display.error(Said("refused: ") + "wrong")
        first, second, third = out.getvalue().splitlines()
        assert first.endswith("login refused (HTTP 475): wrong email or password")
        assert display.last_error == "refused: ***"
        assert second.endswith("ValueError: password='***'")
        assert third.endswith("refused: ***")

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
