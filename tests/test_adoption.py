"""Adopting an existing folder into the state, and checking recorded files on disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from aura_async.exceptions import StorageError
from aura_async.models import Asset, MediaKind
from aura_async.store.records import FileRecord
from aura_async.store.scan import FileStatus, check_file, scan_relpaths, sha256_file

ASSET = Asset(
    id="id1",
    user_id="u1",
    file_name="a.jpg",
    taken_at="2023-10-04T13:10:37.690Z",
    md5_hash="m1",
    uploader_name="Ann",
    video_url="https://video.example/v.mov?sig=1",
    video_file_name="v.mov",
    is_live=True,
)
PHOTO = "2023-10-04T13-10-37.690Z_id1.jpg"
CLIP = "2023-10-04T13-10-37.690Z_id1.mov"


class TestSha256:
    """Hashing files in chunks."""

    @pytest.mark.parametrize(("size", "chunk"), [(0, 4), (3, 4), (4, 4), (10, 4), (10, 1 << 20)])
    def test_matches_hashlib(self, tmp_path: Path, size: int, chunk: int) -> None:
        """The chunked digest equals hashlib's digest of the whole content."""
        path = tmp_path / "f"
        data = bytes(range(size))
        path.write_bytes(data)
        assert sha256_file(path, chunk) == hashlib.sha256(data).hexdigest()

    def test_unreadable_file(self, tmp_path: Path) -> None:
        """A missing file is a StorageError whose cause is the OSError."""
        with pytest.raises(StorageError, match="cannot read") as caught:
            sha256_file(tmp_path / "missing")
        assert isinstance(caught.value.__cause__, FileNotFoundError)


class TestScan:
    """Finding names where the old script could have put them."""

    def test_flat_years_hidden_and_parts(self, tmp_path: Path) -> None:
        """Top-level files come before year folders; hidden entries and .part files do not count."""
        (tmp_path / "2023" / "deeper").mkdir(parents=True)
        (tmp_path / ".aura-async").mkdir()
        (tmp_path / "2023" / "e.jpg.part").write_bytes(b"x")
        for rel in ("b.jpg", "2023/b.jpg", "2023/c.jpg", "d.jpg.part", ".hidden", ".aura-async/x"):
            (tmp_path / rel).write_bytes(b"x")
        assert scan_relpaths(tmp_path) == {
            "b.jpg": ["b.jpg", "2023/b.jpg"],
            "c.jpg": ["2023/c.jpg"],
        }

    def test_missing_folder_is_empty(self, tmp_path: Path) -> None:
        """A folder that does not exist yet holds nothing."""
        assert scan_relpaths(tmp_path / "nope") == {}

    def test_unlistable_folder(self, tmp_path: Path) -> None:
        """A folder that cannot be examined (name too long) is a StorageError."""
        with pytest.raises(StorageError, match="cannot list"):
            scan_relpaths(tmp_path / ("x" * 300))


class TestCheckFile:
    """Comparing a record with the disk, for --verify."""

    def record(self, tmp_path: Path, data: bytes) -> FileRecord:
        """A record of PHOTO as if ``data`` had been written."""
        return FileRecord(
            "id1",
            MediaKind.PHOTO,
            f"2023/{PHOTO}",
            1.0,
            1.0,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )

    @pytest.mark.parametrize(
        ("on_disk", "check_hash", "expected"),
        [
            (b"photo", True, FileStatus.OK),
            (None, True, FileStatus.MISSING),
            (b"photo!", True, FileStatus.CHANGED),
            (b"PHOTO", True, FileStatus.CHANGED),
            (b"PHOTO", False, FileStatus.OK),
        ],
    )
    def test_status(
        self, tmp_path: Path, on_disk: bytes | None, check_hash: bool, expected: FileStatus
    ) -> None:
        """Missing, resized or rewritten files are told apart from intact ones."""
        record = self.record(tmp_path, b"photo")
        if on_disk is not None:
            record.path(tmp_path).parent.mkdir()
            record.path(tmp_path).write_bytes(on_disk)
        assert check_file(tmp_path, record, check_hash=check_hash) is expected

    def test_without_recorded_hash_only_size_counts(self, tmp_path: Path) -> None:
        """A record without sha256 (adopted without hashing) is checked by size only."""
        path = tmp_path / PHOTO
        path.write_bytes(b"photo")
        record = FileRecord("id1", MediaKind.PHOTO, PHOTO, 1.0, 1.0, size=5)
        assert check_file(tmp_path, record) is FileStatus.OK

    def test_unreadable_path(self, tmp_path: Path) -> None:
        """A path that cannot be examined (under a file) is a StorageError."""
        (tmp_path / "2023").write_bytes(b"a file, not a folder")
        with pytest.raises(StorageError, match="cannot read"):
            check_file(tmp_path, self.record(tmp_path, b"x"))
