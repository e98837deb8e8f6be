"""store/verify.py: --verify re-hashes the recorded files of a folder, without the network."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aura_async.config import FrameConfig
from aura_async.exceptions import StorageError
from aura_async.models import MediaKind
from aura_async.store.records import FileRecord
from aura_async.store.state import STATE_DIR, State
from aura_async.store.verify import VerifyReport, verify_frame


def _record(folder: Path, relpath: str, data: bytes, **fields: Any) -> FileRecord:
    """Put ``data`` at ``relpath`` and return its record, size and SHA-256 included."""
    path = folder / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    name = relpath.rsplit("/", 1)[-1]
    record = FileRecord(name, MediaKind.PHOTO, relpath, 1.0, 2.0, size=len(data), sha256=digest)
    return replace(record, **fields)


def _frame(folder: Path, *records: FileRecord) -> FrameConfig:
    with State.open(folder) as state:
        state.record(records)
    return FrameConfig("home", "f1", folder)


class TestVerify:
    def test_a_folder_without_state_has_nothing_to_verify(self, tmp_path: Path) -> None:
        """No state database yet: nothing checked, said so, and no state is created."""
        (tmp_path / "a.jpg").write_bytes(b"photo")
        report = verify_frame(FrameConfig("home", "f1", tmp_path))
        assert (report.has_state, report.checked, report.ok) == (False, 0, True)
        assert "nothing to verify yet" in report.summary_line()
        assert not (tmp_path / STATE_DIR).exists()

    def test_intact_files_are_ok(self, tmp_path: Path) -> None:
        """Every recorded file present with its size and hash: all checked, nothing found."""
        frame = _frame(
            tmp_path,
            _record(tmp_path, "a.jpg", b"first photo"),
            _record(tmp_path, "2020/b.mov", b"a clip"),
        )
        report = verify_frame(frame)
        assert (report.checked, report.missing, report.changed, report.ok) == (2, [], [], True)
        assert report.summary_line() == "home: verified 2 files: 0 missing, 0 changed"

    def test_missing_and_changed_files_are_named(self, tmp_path: Path) -> None:
        """A deleted file is missing; one of another size, or same size and other bytes,
        is changed."""
        records = [
            _record(tmp_path, "gone.jpg", b"deleted later"),
            _record(tmp_path, "longer.jpg", b"edited"),
            _record(tmp_path, "same-size.jpg", b"abcdef"),
            _record(tmp_path, "fine.jpg", b"untouched"),
        ]
        frame = _frame(tmp_path, *records)
        (tmp_path / "gone.jpg").unlink()
        (tmp_path / "longer.jpg").write_bytes(b"edited by the user")
        (tmp_path / "same-size.jpg").write_bytes(b"ABCDEF")
        report = verify_frame(frame)
        assert report.checked == 4
        assert report.missing == ["gone.jpg"]
        assert sorted(report.changed) == ["longer.jpg", "same-size.jpg"]
        assert not report.ok
        assert report.summary_line() == "home: verified 4 files: 1 missing, 2 changed"
        assert report.to_json() == {
            "frame": "home",
            "checked": 4,
            "missing": ["gone.jpg"],
            "changed": report.changed,
        }

    def test_files_removed_from_the_frame_are_still_checked(self, tmp_path: Path) -> None:
        """A file whose asset left the frame is still the family's photo: it is verified."""
        frame = _frame(tmp_path, _record(tmp_path, "old.jpg", b"kept", removed_at=3.0))
        (tmp_path / "old.jpg").write_bytes(b"KEPT")
        report = verify_frame(frame)
        assert (report.checked, report.changed) == (1, ["old.jpg"])

    def test_a_record_without_hash_is_checked_by_size(self, tmp_path: Path) -> None:
        """An adopted file (no hash recorded) is judged by its size alone."""
        frame = _frame(tmp_path, _record(tmp_path, "adopted.jpg", b"12345", sha256=None))
        (tmp_path / "adopted.jpg").write_bytes(b"54321")
        assert verify_frame(frame).ok

    def test_an_unreadable_file_is_a_storage_error(self, tmp_path: Path) -> None:
        """A recorded path that cannot be read (here a folder) stops --verify with its path."""
        frame = _frame(tmp_path, _record(tmp_path, "a.jpg", b"photo", size=None))
        (tmp_path / "a.jpg").unlink()
        (tmp_path / "a.jpg").mkdir()
        with pytest.raises(StorageError, match=r"cannot read .*a\.jpg"):
            verify_frame(frame)


def test_an_empty_report_is_ok() -> None:
    """A report with nothing missing or changed is ok, whatever it checked."""
    assert VerifyReport("home", checked=3).ok
    assert not VerifyReport("home", missing=["x"]).ok
    assert not VerifyReport("home", changed=["y"]).ok
