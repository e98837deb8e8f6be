"""Hostile data and secrets: names that try to leave the folder, and passwords and tokens
that must never be shown."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from aura_async.cli import app
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
