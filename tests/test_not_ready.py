"""A video Aura is still processing (its row has no video_url yet), from the command line:
nothing of it is fetched, it is counted, a later run fetches it once the URL is there, and
until then the folder has not caught up with its frame."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aura_async.cli import ExitCode, app
from aura_async.emulator import Emulator
from aura_async.emulator.data import Media
from aura_async.models import VIDEO_EXTENSIONS

from .conftest import first_frame_id, write_config
from .test_downloader import expected_files, files_on_disk

runner = CliRunner()
JPEG_START = b"\xff\xd8"


def run(config: Path, *args: str) -> tuple[dict[str, Any], str]:
    """One run with --json: its JSON summary and its stderr (exit 0 asserted)."""
    result = runner.invoke(
        app, ["--config", str(config), "myframe", "--rate", "0", "--json", *args]
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == ExitCode.OK, result.stderr
    (line,) = result.stdout.splitlines()
    return json.loads(line), result.stderr


def a_video(emu: Emulator) -> dict[str, Any]:
    """The first video row (not a Live Photo) of the emulator's frame."""
    frame = emu.library.frames[first_frame_id(emu)]
    return next(a for a in frame.assets if a["video_url"] and not a["is_live"])


def a_photo(emu: Emulator) -> dict[str, Any]:
    """The first visible plain photo row of the emulator's frame."""
    frame = emu.library.frames[first_frame_id(emu)]
    return next(
        a
        for a in frame.assets
        if a["file_name"] and not a["video_url"] and a["id"] not in frame.hidden_ids
    )


def movie_without_url(emu: Emulator) -> tuple[dict[str, Any], Callable[[], None]]:
    """A video row (``data_uti`` public.movie, a poster still) whose video_url is not there
    yet; making it ready puts the URL back."""
    row = a_video(emu)
    url = row["video_url"]
    row["video_url"] = None
    return row, lambda: row.update(video_url=url)


def mov_name_without_url(emu: Emulator) -> tuple[dict[str, Any], Callable[[], None]]:
    """A row named like a video (``file_name`` ``.mov``), without ``data_uti`` or any video
    field, that the image server would answer with a JPEG; once ready it is a video with a
    poster still and its clip."""
    row = a_photo(emu)
    library = emu.library
    stem = row["file_name"].rsplit(".", 1)[0]
    library.images[f"{stem}.mov"] = library.images.pop(row["file_name"])
    row["file_name"] = f"{stem}.mov"
    del row["data_uti"]

    def ready() -> None:
        library.images[f"{stem}.jpg"] = library.images.pop(f"{stem}.mov")
        library.videos[f"{stem}.mov"] = Media(f"clip:{stem}", 40 * 1024, "video/mp4")
        row.update(
            file_name=f"{stem}.jpg",
            video_file_name=f"{stem}.mov",
            video_url=f"cdn:{stem}.mov",
            data_uti="public.movie",
        )

    return row, ready


SHAPES = {"movie without url": movie_without_url, "mov name without url": mov_name_without_url}


def no_jpeg_under_a_video_name(root: Path) -> None:
    for relpath, data in files_on_disk(root).items():
        if relpath.lower().endswith(VIDEO_EXTENSIONS):
            assert not data.startswith(JPEG_START), relpath


@pytest.mark.parametrize("shape", SHAPES)
def test_fetched_only_once_ready(threaded_emulator: Emulator, tmp_path: Path, shape: str) -> None:
    """A video row without its video_url is not fetched at all (no JPEG under a .mov or
    .mp4 name), is counted as not ready in the summary and the JSON, and a later run fetches
    it once the row has its URL."""
    emu = threaded_emulator
    row, ready = SHAPES[shape](emu)
    config = write_config(emu, tmp_path)
    root = tmp_path / "photos"
    summary, err = run(config)
    assert summary["not_ready"] == 1
    assert summary["downloaded"] == len(expected_files(emu)) - 1  # all but its still
    assert "1 video not ready on Aura yet, fetched later" in err.strip().splitlines()[-1]
    assert not [name for name in files_on_disk(root) if row["id"] in name]
    assert emu.counters.files[row["file_name"]] == 0
    no_jpeg_under_a_video_name(root)

    ready()
    emu.counters.reset()
    summary, _ = run(config)
    assert (summary["not_ready"], summary["downloaded"]) == (0, 2)
    assert files_on_disk(root) == expected_files(emu)
    no_jpeg_under_a_video_name(root)


def test_not_caught_up_while_a_video_is_not_ready(
    threaded_emulator: Emulator, tmp_path: Path
) -> None:
    """While a video is not ready the folder has not caught up, so --until-found lists the
    whole frame; once it is fetched, --until-found stops listing early again."""
    emu = threaded_emulator
    _, ready = movie_without_url(emu)
    config = write_config(emu, tmp_path)
    first, _ = run(config)
    assert first["not_ready"] == 1

    summary, err = run(config, "--until-found", "5")
    assert (summary["listing_complete"], summary["not_ready"], summary["downloaded"]) == (
        True,
        1,
        0,
    )
    assert "listing the whole frame" in err

    ready()
    summary, _ = run(config, "--until-found", "5")
    assert (summary["listing_complete"], summary["not_ready"], summary["downloaded"]) == (
        True,
        0,
        2,
    )
    summary, err = run(config, "--until-found", "5")
    assert (summary["listing_complete"], summary["downloaded"]) == (False, 0)
    assert "listing the whole frame" not in err
