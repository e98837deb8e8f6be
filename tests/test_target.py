"""download/target.py: the file being written: where it resumes, its tail, its discard, and
the durable commit (finished, synced, renamed, then its sidecars), through an injected Disk."""

from __future__ import annotations

import errno
import hashlib
import os
from datetime import datetime
from pathlib import Path

import pytest

from aura_async.download.target import (
    Committed,
    Finish,
    TargetFile,
    taken_at_timestamp,
    write_durably,
)
from aura_async.models import Asset
from aura_async.seams import Disk

from .test_exif import DATE_TIME_ORIGINAL, make_jpeg, read_exif

TAKEN_AT = "2023-10-04T13:10:37.690Z"
ASSET = Asset("a1", user_id="u1", file_name="a1.jpg", taken_at=TAKEN_AT, uploader_name="Gran")
UNSUPPORTED = sorted({errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


class RecordingDisk(Disk):
    """The real disk, noting each sync and each rename in order, and the bytes and mtime
    of each file as it is synced; ``sync_errno`` fails the syncs of names ending in
    ``failing``."""

    def __init__(self, sync_errno: int | None = None, failing: str = "") -> None:
        self.steps: list[tuple[str, ...]] = []
        self.synced: list[tuple[bytes, float]] = []
        self._errno = sync_errno
        self._failing = failing

    def sync(self, path: Path) -> None:
        self.steps.append(("sync", path.name))
        self.synced.append((path.read_bytes(), path.stat().st_mtime))
        if self._errno is not None and path.name.endswith(self._failing):
            raise OSError(self._errno, os.strerror(self._errno))
        super().sync(path)

    def replace(self, source: Path, target: Path) -> None:
        self.steps.append(("replace", source.name, target.name))
        super().replace(source, target)


def target(
    folder: Path,
    name: str = "a1.jpg",
    *,
    finish: Finish | None = None,
    disk: Disk | None = None,
    maybe_part: bool = True,
    asset: Asset = ASSET,
) -> TargetFile:
    return TargetFile(
        asset,
        folder / name,
        finish or Finish(),
        disk=disk or Disk(),
        pace=None,
        maybe_part=maybe_part,
    )


def written(data: bytes) -> tuple[int, str]:
    return len(data), hashlib.sha256(data).hexdigest()


class TestPart:
    def test_the_part_sits_beside_the_final_name(self, tmp_path: Path) -> None:
        """The .part is the final name plus .part, in the same folder (one rename away)."""
        file = target(tmp_path, "2023/x.mov")
        assert file.part == tmp_path / "2023" / "x.mov.part"
        assert file.final == tmp_path / "2023" / "x.mov"

    async def test_resume_offset_is_the_size_of_the_part(self, tmp_path: Path) -> None:
        """A download resumes after the bytes already in the .part; none: from 0."""
        file = target(tmp_path)
        assert await file.resume_offset() == 0
        file.part.write_bytes(b"x" * 1234)
        assert await file.resume_offset() == 1234

    async def test_no_part_seen_by_the_scan_means_no_look(self, tmp_path: Path) -> None:
        """When the folder scan saw no .part, the first attempt does not look for one; a
        retry does, as the first attempt may have left one."""
        file = target(tmp_path, maybe_part=False)
        file.part.write_bytes(b"left by this run's first attempt")
        assert await file.resume_offset() == 0
        assert await file.resume_offset() == len(b"left by this run's first attempt")

    async def test_read_tail(self, tmp_path: Path) -> None:
        """The tail is the last bytes of the .part, compared with the server's on resume."""
        file = target(tmp_path)
        file.part.write_bytes(b"0123456789")
        assert await file.read_tail(4) == b"6789"
        assert await file.read_tail(10) == b"0123456789"

    async def test_discard(self, tmp_path: Path) -> None:
        """Discarding removes the .part; with none there, it is not an error."""
        file = target(tmp_path)
        file.part.write_bytes(b"foreign bytes")
        await file.discard()
        assert not file.part.exists()
        await file.discard()

    @pytest.mark.parametrize("append", [False, True])
    async def test_writer_starts_anew_or_appends(self, tmp_path: Path, append: bool) -> None:
        """The writer appends to the .part (hashing all of it) or starts it again."""
        file = target(tmp_path)
        file.part.write_bytes(b"old-")
        async with file.writer(append) as out:
            await out.write(b"new")
        data = b"old-new" if append else b"new"
        assert file.part.read_bytes() == data
        assert out.result == written(data)


class TestCommit:
    def test_synced_then_renamed_then_sidecars(self, tmp_path: Path) -> None:
        """The finished .part (dated to taken_at) is synced, then renamed; each sidecar is
        then written the same way: synced under its .part name, then renamed."""
        disk = RecordingDisk()
        finish = Finish(sidecars=((".json", b"{}"), (".xmp", b"<x/>")))
        file = target(tmp_path, finish=finish, disk=disk)
        file.part.write_bytes(b"photo bytes")
        committed = file.commit(written(b"photo bytes"))
        assert committed == Committed(*written(b"photo bytes"), synced=True)
        assert disk.steps == [
            ("sync", "a1.jpg.part"),
            ("replace", "a1.jpg.part", "a1.jpg"),
            ("sync", "a1.jpg.json.part"),
            ("replace", "a1.jpg.json.part", "a1.jpg.json"),
            ("sync", "a1.jpg.xmp.part"),
            ("replace", "a1.jpg.xmp.part", "a1.jpg.xmp"),
        ]
        taken = datetime.fromisoformat(TAKEN_AT).timestamp()
        assert [data for data, _ in disk.synced] == [b"photo bytes", b"{}", b"<x/>"]
        assert disk.synced[0][1] == pytest.approx(taken, abs=0.01)  # dated before the sync
        assert (tmp_path / "a1.jpg").read_bytes() == b"photo bytes"
        assert (tmp_path / "a1.jpg.json").read_bytes() == b"{}"
        assert (tmp_path / "a1.jpg.xmp").read_bytes() == b"<x/>"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["a1.jpg", "a1.jpg.json", "a1.jpg.xmp"]

    def test_exif_is_added_before_the_sync(self, tmp_path: Path) -> None:
        """With EXIF asked for, a JPEG without it gets its date before it is synced; the
        size and hash returned are those of the final bytes."""
        disk = RecordingDisk()
        jpeg = make_jpeg()
        file = target(tmp_path, finish=Finish(exif=True), disk=disk)
        file.part.write_bytes(jpeg)
        committed = file.commit(written(jpeg))
        final = (tmp_path / "a1.jpg").read_bytes()
        assert final != jpeg
        assert (committed.size, committed.sha256) == written(final)
        assert disk.synced[0][0] == final
        _, exif, _ = read_exif(final)
        assert exif[DATE_TIME_ORIGINAL] == "2023:10:04 13:10:37"

    @pytest.mark.parametrize("body", [b"not a jpeg: a video", b""], ids=["video", "empty"])
    def test_exif_leaves_other_files_alone(self, tmp_path: Path, body: bytes) -> None:
        """What is not a JPEG is committed as written, its size and hash unchanged."""
        file = target(tmp_path, "a1.mov", finish=Finish(exif=True))
        file.part.write_bytes(body)
        assert file.commit(written(body)) == Committed(*written(body))
        assert (tmp_path / "a1.mov").read_bytes() == body

    def test_without_exif_a_jpeg_is_untouched(self, tmp_path: Path) -> None:
        """Without --write-exif the JPEG's bytes are the server's, byte for byte."""
        jpeg = make_jpeg()
        file = target(tmp_path)
        file.part.write_bytes(jpeg)
        assert file.commit(written(jpeg)) == Committed(*written(jpeg))
        assert (tmp_path / "a1.jpg").read_bytes() == jpeg

    @pytest.mark.parametrize("taken_at", [None, "", "yesterday", "99999-01-01T00:00:00Z"])
    def test_an_unusable_date_leaves_the_mtime(self, tmp_path: Path, taken_at: str | None) -> None:
        """Without a usable taken_at the file keeps the time it was written."""
        asset = Asset("a1", user_id="u1", file_name="a1.jpg", taken_at=taken_at)
        file = target(tmp_path, asset=asset)
        file.part.write_bytes(b"x")
        before = file.part.stat().st_mtime
        file.commit(written(b"x"))
        assert (tmp_path / "a1.jpg").stat().st_mtime == before

    @pytest.mark.parametrize("code", UNSUPPORTED, ids=errno.errorcode.get)
    def test_no_fsync_on_this_file_system_commits_unsynced(self, tmp_path: Path, code: int) -> None:
        """A file system that cannot fsync (EINVAL and kin: some FUSE and network mounts)
        still gets the file and its sidecar, with synced=False for the run to warn."""
        disk = RecordingDisk(code)
        file = target(tmp_path, finish=Finish(sidecars=((".json", b"{}"),)), disk=disk)
        file.part.write_bytes(b"photo")
        assert file.commit(written(b"photo")) == Committed(*written(b"photo"), synced=False)
        assert (tmp_path / "a1.jpg").read_bytes() == b"photo"
        assert (tmp_path / "a1.jpg.json").read_bytes() == b"{}"
        assert [step[0] for step in disk.steps] == ["sync", "replace"] * 2

    def test_a_sidecar_that_cannot_sync_makes_the_commit_unsynced(self, tmp_path: Path) -> None:
        """The file synced but its sidecar could not: the commit is not called synced."""
        disk = RecordingDisk(errno.EINVAL, failing=".json.part")
        file = target(tmp_path, finish=Finish(sidecars=((".json", b"{}"),)), disk=disk)
        file.part.write_bytes(b"photo")
        assert not file.commit(written(b"photo")).synced

    def test_a_failing_sync_leaves_no_final_name(self, tmp_path: Path) -> None:
        """A real I/O error on the sync is raised; the final name is never given to bytes
        that may not be on the disk."""
        disk = RecordingDisk(errno.EIO)
        file = target(tmp_path, disk=disk)
        file.part.write_bytes(b"photo")
        with pytest.raises(OSError, match="Input/output error"):
            file.commit(written(b"photo"))
        assert not (tmp_path / "a1.jpg").exists()
        assert file.part.read_bytes() == b"photo"
        assert [step[0] for step in disk.steps] == ["sync"]


class TestWriteDurably:
    def test_through_a_part_synced_then_renamed(self, tmp_path: Path) -> None:
        """A small file is written to its .part, synced, then renamed over the old one."""
        disk = RecordingDisk()
        path = tmp_path / "listing.json"
        path.write_bytes(b"old")
        assert write_durably(disk, path, b"new") is True
        assert path.read_bytes() == b"new"
        assert disk.steps == [
            ("sync", "listing.json.part"),
            ("replace", "listing.json.part", "listing.json"),
        ]
        assert disk.synced[0][0] == b"new"
        assert [p.name for p in tmp_path.iterdir()] == ["listing.json"]

    def test_unsupported_sync_is_reported(self, tmp_path: Path) -> None:
        """Where fsync is unsupported the file is still written, and the answer says so."""
        path = tmp_path / "a.json"
        assert write_durably(RecordingDisk(errno.EINVAL), path, b"{}") is False
        assert path.read_bytes() == b"{}"

    def test_a_failing_sync_is_raised(self, tmp_path: Path) -> None:
        """Any other sync error is raised, and the old file is left as it was."""
        path = tmp_path / "a.json"
        path.write_bytes(b"old")
        with pytest.raises(OSError, match="Input/output error"):
            write_durably(RecordingDisk(errno.EIO), path, b"new")
        assert path.read_bytes() == b"old"


@pytest.mark.parametrize(
    ("taken_at", "expected"),
    [
        ("2023-10-04T13:10:37.690Z", 1696425037.69),
        ("2023-10-04T13:10:37Z", 1696425037.0),
        ("2023-10-04T15:10:37+02:00", 1696425037.0),
        ("2000-01-01T00:00:00.000Z", 946684800.0),
        (None, None),
        ("", None),
        ("not a date", None),
        ("2023-13-01T00:00:00Z", None),
        ("99999-01-01T00:00:00Z", None),
    ],
)
def test_taken_at_timestamp(taken_at: str | None, expected: float | None) -> None:
    """taken_at as a Unix time for the mtime; anything unparseable is None."""
    assert taken_at_timestamp(taken_at) == (
        pytest.approx(expected) if expected is not None else None
    )
