"""--verify --repair: every missing or changed file downloaded again, the user's changed
bytes kept beside it unless --no-keep; --verify says how, and never reads a busy folder."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner

from aura_async.cli import ExitCode, app
from aura_async.emulator import Emulator
from aura_async.store.lock import FolderLock

from .conftest import write_config
from .test_downloader import expected_files, files_on_disk

runner = CliRunner()


def _invoke(config: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--config", str(config), "myframe", "--rate", "0", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _damaged_folder(emu: Emulator, tmp_path: Path) -> tuple[Path, Path, str, str, bytes]:
    """A complete download, then one photo changed by four bytes and one deleted."""
    config = write_config(emu, tmp_path)
    assert _invoke(config)[0] == ExitCode.OK
    root = tmp_path / "photos"
    changed, missing = sorted(n for n in expected_files(emu) if n.endswith(".jpeg"))[:2]
    data = bytearray((root / changed).read_bytes())
    data[100:104] = b"EDIT"
    (root / changed).write_bytes(bytes(data))
    (root / missing).unlink()
    return config, root, changed, missing, bytes(data)


def test_verify_says_how_to_repair(threaded_emulator: Emulator, tmp_path: Path) -> None:
    """--verify names the changed and missing files, exits 1, and gives the repair command."""
    config, _, changed, missing, _ = _damaged_folder(threaded_emulator, tmp_path)
    code, _, err = _invoke(config, "--verify")
    assert code == ExitCode.FAILED
    assert f"changed {changed}" in err
    assert f"missing {missing}" in err
    assert "aura-async myframe --verify --repair" in err


def test_repair_fetches_again_and_keeps_the_changed_bytes(
    threaded_emulator: Emulator, tmp_path: Path
) -> None:
    """--verify --repair restores both files; the changed bytes are kept as
    NAME.changed-DATE; a --verify after it finds nothing wrong."""
    config, root, changed, _, mine = _damaged_folder(threaded_emulator, tmp_path)
    code, _, err = _invoke(config, "--verify", "--repair")
    assert code == ExitCode.OK, err
    date = datetime.now().astimezone().strftime("%Y-%m-%d")
    kept = root / f"{changed}.changed-{date}"
    assert kept.read_bytes() == mine
    on_disk = files_on_disk(root)
    del on_disk[kept.name]
    assert on_disk == expected_files(threaded_emulator)
    assert "2 downloaded" in err
    code, _, err = _invoke(config, "--verify")
    assert code == ExitCode.OK, err
    assert "0 missing, 0 changed" in err


def test_repair_twice_in_a_day_keeps_both_copies(
    threaded_emulator: Emulator, tmp_path: Path
) -> None:
    """A second repair the same day never overwrites the first kept copy."""
    config, root, changed, _, mine = _damaged_folder(threaded_emulator, tmp_path)
    assert _invoke(config, "--verify", "--repair")[0] == ExitCode.OK
    (root / changed).write_bytes(mine[:-1] + b"\x00")
    assert _invoke(config, "--verify", "--repair")[0] == ExitCode.OK
    kept = sorted(p.name for p in root.iterdir() if ".changed-" in p.name)
    assert len(kept) == 2
    assert kept[1].endswith("-2")


def test_no_keep_deletes_the_changed_file(threaded_emulator: Emulator, tmp_path: Path) -> None:
    """--verify --repair --no-keep restores the original without keeping the change."""
    config, root, _, _, _ = _damaged_folder(threaded_emulator, tmp_path)
    code, out, err = _invoke(config, "--verify", "--repair", "--no-keep", "--json")
    assert code == ExitCode.OK, err
    assert files_on_disk(root) == expected_files(threaded_emulator)
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines[0]["changed"]) == 1  # the verify object, then the download's summary
    assert lines[-1]["downloaded"] == 2


def test_verify_of_a_busy_folder_says_so(threaded_emulator: Emulator, tmp_path: Path) -> None:
    """While a download holds the folder, --verify reports it busy (exit 6) and reads
    nothing."""
    config = write_config(threaded_emulator, tmp_path)
    assert _invoke(config)[0] == ExitCode.OK
    with FolderLock(tmp_path / "photos"):
        code, _, err = _invoke(config, "--verify")
    assert code == ExitCode.LOCKED
    assert "the folder is busy" in err
    assert "verified" not in err


def test_repair_needs_verify(tmp_path: Path) -> None:
    """--repair alone, or --no-keep without --repair, is a usage error."""
    assert runner.invoke(app, ["myframe", "--repair"]).exit_code == ExitCode.USAGE
    assert runner.invoke(app, ["myframe", "--verify", "--no-keep"]).exit_code == ExitCode.USAGE
