"""benchmarks/bare_client.py, the benchmarks' baseline, really fetches every byte it is timed on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aura_async.emulator import Emulator, EmulatorConfig, FrameSpec
from benchmarks import bare_client
from benchmarks.common import EmulatorInfo, list_jobs
from tests.conftest import first_frame_id, small_config
from tests.test_downloader import expected_files


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return small_config(frames=[FrameSpec(photos=12, videos=2, live_photos=0, placeholders=0)])


def _info(emu: Emulator) -> EmulatorInfo:
    return EmulatorInfo(
        api_url=emu.api_url,
        image_url=emu.image_url,
        email=emu.config.email,
        password=emu.config.password,
        frame_id=first_frame_id(emu),
        pid=os.getpid(),
        exit_status=lambda: None,
    )


@pytest.mark.parametrize("stream", [False, True])
def test_every_file_arrives_byte_identical(
    threaded_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    jobs = list_jobs(_info(threaded_emulator))
    listing = tmp_path / "list.tsv"
    listing.write_text("".join(f"{job.url}\t{job.relpath}\n" for job in jobs), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)
    args = [str(listing), "-j", "3", *(["--stream"] if stream else [])]
    assert bare_client.main(args) == 0
    written = {p.name: p.read_bytes() for p in out.iterdir()}
    assert written == expected_files(threaded_emulator)


def test_a_failed_fetch_is_exit_1_with_one_line(
    threaded_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "list.tsv"
    listing.write_text(f"{threaded_emulator.image_url}/nobody/nothing.jpg\tx.jpg\n")
    assert bare_client.main([str(listing)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("bare_client: 404")
    assert err.count("\n") == 1
