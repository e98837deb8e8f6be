"""Metadata and selection end to end: EXIF, sidecars, templates, --save-assets, filters."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from aura_async.cli import ExitCode, app
from aura_async.emulator import Emulator, EmulatorConfig, FrameSpec

from .conftest import first_frame_id, small_config, write_config

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "exif": "http://ns.adobe.com/exif/1.0/",
}


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return small_config(
        frames=[FrameSpec(photos=40, videos=1, live_photos=1, placeholders=1, hidden=0)]
    )


def run(emu: Emulator, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    config = write_config(emu, tmp_path)
    result = CliRunner().invoke(app, ["--config", str(config), "myframe", "--rate", "0", *args])
    return result.exit_code, result.stdout, result.stderr


def assets_by_id(emu: Emulator) -> dict[str, dict[str, object]]:
    return {a["id"]: a for a in emu.library.frames[first_frame_id(emu)].assets}


def photos(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in (".jpg", ".jpeg", ".png", ".heic")
        and ".aura-async" not in p.parts
    )


def asset_of(path: Path, emu: Emulator) -> dict[str, object]:
    return next(a for i, a in assets_by_id(emu).items() if i in path.name)


def test_write_exif_and_xmp_sidecars(threaded_emulator: Emulator, tmp_path: Path) -> None:
    """--write-exif --sidecars xmp: photo apps read the date, author, caption and place."""
    code, _, err = run(threaded_emulator, tmp_path, "--write-exif", "--sidecars", "xmp")
    assert code == ExitCode.OK, err
    files = photos(tmp_path / "photos")
    assert len(files) == 42
    with_caption = with_place = 0
    for path in files:
        asset = asset_of(path, threaded_emulator)
        exif = Image.open(io.BytesIO(path.read_bytes())).getexif()
        taken = str(asset["taken_at"])
        assert exif.get_ifd(0x8769)[0x9003] == taken[:19].replace("-", ":", 2).replace("T", " ")
        assert exif[0x013B] == asset["user"]["name"]  # type: ignore[index]
        tree = ET.parse(path.with_name(path.name + ".xmp"))
        creator = tree.find(".//dc:creator/rdf:Seq/rdf:li", NS)
        assert creator is not None
        assert creator.text == asset["user"]["name"]  # type: ignore[index]
        description = tree.find(".//rdf:Description", NS)
        assert description is not None
        date = tree.find(".//exif:DateTimeOriginal", NS)  # an element, or an attribute
        date_text = (
            date.text if date is not None else description.get(f"{{{NS['exif']}}}DateTimeOriginal")
        )
        assert date_text is not None
        assert date_text.startswith(taken[:19])
        captions = asset["attachments"]
        if captions:
            with_caption += 1
            text = captions[0]["data"]  # type: ignore[index]
            assert exif[0x010E] == text
            description = tree.find(".//dc:description/rdf:Alt/rdf:li", NS)
            assert description is not None
            assert description.text == text
        if asset["location"]:
            with_place += 1
            gps = exif.get_ifd(0x8825)
            lat = gps[2]
            value = float(lat[0]) + float(lat[1]) / 60 + float(lat[2]) / 3600
            assert value == pytest.approx(abs(asset["location"][0]), abs=1e-4)  # type: ignore[index]
    assert with_caption > 0
    assert with_place > 0
    # The state recorded the final bytes: a second run and --verify see nothing new.
    code, _, err = run(threaded_emulator, tmp_path, "--write-exif", "--sidecars", "xmp")
    assert "0 downloaded" in err
    code, _, err = run(threaded_emulator, tmp_path, "--verify")
    assert code == ExitCode.OK, err


def test_json_sidecars_added_to_an_existing_folder(
    threaded_emulator: Emulator, tmp_path: Path
) -> None:
    """--sidecars json on a folder already downloaded adds the sidecars, fetching nothing."""
    run(threaded_emulator, tmp_path)
    threaded_emulator.counters.reset()
    code, _, _ = run(threaded_emulator, tmp_path, "--sidecars", "json")
    assert code == ExitCode.OK
    assert threaded_emulator.counters.media_requests == 0
    files = photos(tmp_path / "photos")
    for path in files:
        data = json.loads(path.with_name(path.name + ".json").read_text())
        asset = asset_of(path, threaded_emulator)
        assert data["id"] == asset["id"]
        assert data["frame"] == "myframe"
        assert data["taken_at"] == asset["taken_at"]


def test_templates(threaded_emulator: Emulator, tmp_path: Path) -> None:
    """--folder-template and --name-template lay files out by tokens."""
    code, _, err = run(
        threaded_emulator,
        tmp_path,
        "--folder-template",
        "{uploader}/{year}",
        "--name-template",
        "{year}-{month}-{day}_{id}{ext}",
    )
    assert code == ExitCode.OK, err
    for path in photos(tmp_path / "photos"):
        asset = asset_of(path, threaded_emulator)
        taken = str(asset["taken_at"])
        rel = path.relative_to(tmp_path / "photos").as_posix()
        uploader = asset["user"]["name"]  # type: ignore[index]
        assert rel.startswith(f"{uploader}/{taken[:4]}/{taken[:10]}_{asset['id']}")


@pytest.mark.parametrize(
    "args",
    [
        ["--folder-template", "{nope}"],
        ["--name-template", "{year}"],
        ["--years", "--folder-template", "{year}"],
        ["--since", "last week"],
        ["--since", "2024-13"],
        ["--until", "2024-02-30"],
        ["--sidecars", "yaml"],
        ["--demo", "--count"],
        ["--list-frames", "--count"],
    ],
)
def test_bad_templates_and_dates_are_usage_errors(args: list[str], tmp_path: Path) -> None:
    """Bad templates, dates or sidecar kinds: one line, exit 2, before anything runs."""
    result = CliRunner().invoke(app, ["--config", str(tmp_path / "none.ini"), "x", *args])
    assert result.exit_code == ExitCode.USAGE
    assert len(result.stderr.strip().splitlines()) == 1


def test_selection_filters(threaded_emulator: Emulator, tmp_path: Path) -> None:
    """--since/--until keep a date range; --uploader keeps one relative's photos."""
    code, _, _ = run(
        threaded_emulator,
        tmp_path,
        "--since",
        "2020",
        "--until",
        "2022-06",
        "--uploader",
        "dad",
        "--no-videos",
    )
    assert code == ExitCode.OK
    files = photos(tmp_path / "photos")
    assert files
    expected = [
        a
        for a in assets_by_id(threaded_emulator).values()
        if a["file_name"]
        and "2020" <= str(a["taken_at"])[:7] <= "2022-06"
        and a["user"]["name"] == "Dad"  # type: ignore[index]
    ]
    assert len(files) == len(expected)


def test_save_assets(threaded_emulator: Emulator, tmp_path: Path) -> None:
    """--save-assets writes the raw listing as JSON."""
    target = tmp_path / "assets.json"
    code, _, _ = run(threaded_emulator, tmp_path, "--save-assets", str(target), "--dry-run")
    assert code == ExitCode.OK
    assert not target.exists()  # --dry-run writes nothing
    code, _, _ = run(threaded_emulator, tmp_path, "--save-assets", str(target))
    saved = json.loads(target.read_text())
    assert [a["id"] for a in saved] == list(assets_by_id(threaded_emulator))
    assert saved[0].keys() >= {"id", "taken_at", "file_name", "user", "some_future_field"}
