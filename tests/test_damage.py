"""Every run notices damage cheaply: empty or cut files are fetched again (recorded ones and
ones adopted by name), whole files of another size are the user's edits, kept."""

from __future__ import annotations

from pathlib import Path

from aura_async.emulator import Emulator

from .test_downloader import download, expected_files, files_on_disk


def _names(emu: Emulator) -> tuple[str, str, str]:
    """A photo, another photo and a video clip of the frame."""
    names = sorted(expected_files(emu))
    photos = [n for n in names if n.endswith((".jpeg", ".jpg", ".JPG", ".heic", ".png"))]
    clips = [n for n in names if n.endswith((".mp4", ".mov"))]
    return photos[0], photos[1], clips[0]


class TestRecordedFiles:
    async def test_empty_and_cut_files_are_fetched_again(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """A photo emptied, a photo and a clip cut short (as a power cut leaves them on a disk
        that did not sync): the next run fetches exactly those, byte-correct."""
        await download(emulator, tmp_path)
        root = tmp_path / "myframe"
        empty, cut, clip = _names(emulator)
        (root / empty).write_bytes(b"")
        (root / cut).write_bytes((root / cut).read_bytes()[:4096])
        (root / clip).write_bytes((root / clip).read_bytes()[:10_000])
        emulator.counters.reset()
        report, _ = await download(emulator, tmp_path)
        assert files_on_disk(root) == expected_files(emulator)
        assert (report.damaged, report.downloaded) == (3, 3)
        assert emulator.counters.media_requests == 3
        assert "3 damaged on disk, fetched again" in report.summary_line()
        assert report.to_json()["damaged_refetched"] == 3

    async def test_a_whole_file_of_another_size_is_the_users_edit(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """A photo re-saved by the user (still a whole JPEG, another size) is reported and
        never overwritten."""
        await download(emulator, tmp_path)
        root = tmp_path / "myframe"
        edited, _, _ = _names(emulator)
        original = (root / edited).read_bytes()
        mine = original[:-2].rstrip(b"\x00")[:-500] + b"\xff\xd9"  # cropped, still whole
        (root / edited).write_bytes(mine)
        emulator.counters.reset()
        report, _ = await download(emulator, tmp_path)
        assert (root / edited).read_bytes() == mine
        assert report.changed == [edited]
        assert report.downloaded == 0
        assert emulator.counters.media_requests == 0
        assert report.to_json()["changed_locally"] == [edited]
        assert "1 changed locally, kept" in report.summary_line()

    async def test_an_untouched_folder_costs_no_read(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """A nightly run over intact files reads none of them (a stat each is all)."""
        await download(emulator, tmp_path)
        emulator.counters.reset()
        report, _ = await download(emulator, tmp_path)
        assert (report.damaged, report.changed, report.downloaded) == (0, [], 0)
        assert emulator.counters.media_requests == 0


class TestAdoption:
    async def test_adoption_by_name_rejects_empty_and_cut_files(
        self, emulator: Emulator, tmp_path: Path
    ) -> None:
        """An old script's folder (no state) holding an empty file and a cut one: those two
        are fetched again, every other file is adopted without a request."""
        root = tmp_path / "myframe"
        root.mkdir()
        expected = expected_files(emulator)
        for name, data in expected.items():
            (root / name).write_bytes(data)
        empty, cut, _ = _names(emulator)
        (root / empty).write_bytes(b"")
        (root / cut).write_bytes(expected[cut][: len(expected[cut]) // 2])
        report, _ = await download(emulator, tmp_path)
        assert files_on_disk(root) == expected
        assert (report.damaged, report.downloaded) == (2, 2)
        assert report.skipped == len(expected) - 2
        assert emulator.counters.media_requests == 2
