"""report.py: the Recorder fills a FrameReport from events; the summary line, the --json
object and human_bytes."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from aura_async.report import (
    BytesReceived,
    DiskWarning,
    Event,
    FileDone,
    FileFailed,
    FileLinked,
    FrameEnded,
    FrameReport,
    JobsQueued,
    ListingRecorded,
    LoggedIn,
    Notice,
    PageListed,
    PlanReady,
    Recorder,
    Retrying,
    Throttled,
    WouldDownload,
    human_bytes,
    local_time,
    plural,
)

PLAN = PlanReady(
    "f",
    7,
    3,
    2,
    listed=20,
    excluded=4,
    missing=1,
    duplicates_skipped=5,
    rate=12.0,
    damaged=2,
    edited=("edited.jpg",),
    listing_complete=False,
    not_ready=3,
)


class TestRecorder:
    @pytest.mark.parametrize(
        ("events", "changed"),
        [
            ([FileDone("a.jpg", 100)], {"downloaded": 1, "bytes": 100}),
            ([FileDone("v.mov", 100, resumed_from=300)], {"downloaded": 1, "bytes": 100}),
            (
                [FileDone("a.jpg", 100), FileDone("b.mp4", 50)],
                {"downloaded": 2, "bytes": 150},
            ),
            (
                [FileFailed("a.jpg", "not found (HTTP 404)")],
                {"failed": 1, "failures": [("a.jpg", "not found (HTTP 404)")]},
            ),
            (
                [FileFailed("a.jpg", "disk full", fatal=True)],
                {"failed": 1, "failures": [("a.jpg", "disk full")]},
            ),
            ([FileLinked("copy.jpg"), FileLinked("copy2.jpg")], {"linked": 2}),
            ([Throttled(429, 1.0, 5.0), Throttled(None, 0.0, 2.5)], {"throttled": 2}),
            (
                [PLAN],
                {
                    "listed": 20,
                    "skipped": 3,
                    "placeholders": 2,
                    "excluded": 4,
                    "missing": 1,
                    "duplicates": 5,
                    "damaged": 2,
                    "changed": ["edited.jpg"],
                    "listing_complete": False,
                    "not_ready": 3,
                },
            ),
            # files planned but never tried: what the frame's end finds left of them
            (
                [JobsQueued("f", 3), JobsQueued("f", 2), FileDone("a.jpg", 1), FrameEnded(1.0)],
                {"downloaded": 1, "bytes": 1, "seconds": 1.0, "not_attempted": 4},
            ),
            (
                [
                    JobsQueued("f", 10),
                    replace(PLAN, listing_complete=True),
                    FileFailed("b.jpg", "gone"),
                    FrameEnded(1.0, interrupted=True),
                ],
                {
                    **{"listed": 20, "skipped": 3, "placeholders": 2, "excluded": 4},
                    **{"missing": 1, "duplicates": 5, "damaged": 2, "not_ready": 3},
                    "changed": ["edited.jpg"],
                    "failed": 1,
                    "failures": [("b.jpg", "gone")],
                    "seconds": 1.0,
                    "interrupted": True,
                    "not_attempted": 6,
                },
            ),
            (
                [JobsQueued("f", 3), FrameEnded(1.0, dry_run=True)],
                {"seconds": 1.0},
            ),
            ([ListingRecorded(("gone.jpg", "x/old.mp4"))], {"removed": ["gone.jpg", "x/old.mp4"]}),
            ([FrameEnded(2.5)], {"seconds": 2.5}),
            ([FrameEnded(1.0, interrupted=True)], {"seconds": 1.0, "interrupted": True}),
            ([FrameEnded(1.0, error="locked")], {"seconds": 1.0, "error": "locked"}),
            (
                [FrameEnded(2.0, started_at=100.0, finished_at=102.0, exit_code=1)],
                {
                    "seconds": 2.0,
                    "started_at": local_time(100.0),
                    "finished_at": local_time(102.0),
                    "exit_code": 1,
                },
            ),
            (  # the first start and the last end; an exit code stays until another comes
                [
                    FrameEnded(1.0, started_at=100.0, finished_at=101.0, exit_code=6),
                    FrameEnded(2.0, started_at=200.0, finished_at=202.0),
                ],
                {
                    "seconds": 2.0,
                    "started_at": local_time(100.0),
                    "finished_at": local_time(202.0),
                    "exit_code": 6,
                },
            ),
            (
                [FrameEnded(1.0, interrupted=True, error="boom"), FrameEnded(3.0)],
                {"seconds": 3.0, "interrupted": True, "error": "boom"},
            ),
            (
                [FrameEnded(1.0, error="first"), FrameEnded(2.0, error="second")],
                {"seconds": 2.0, "error": "second"},
            ),
            (
                [
                    BytesReceived(4096),
                    Retrying("a.jpg", "reset"),
                    DiskWarning("no fsync"),
                    Notice("listing fully: the folder has not caught up"),
                    WouldDownload(Path("/photos"), "a.jpg"),
                    LoggedIn(relogin=True),
                    PageListed("f-1", 1, 500, 500, more=True),
                ],
                {},
            ),
        ],
    )
    def test_each_event_fills_its_figures(
        self, events: list[Event], changed: dict[str, Any]
    ) -> None:
        """Each event changes exactly the figures it stands for, and nothing else."""
        report = FrameReport("f", "id-1")
        recorder = Recorder(report)
        for event in events:
            recorder(event)
        expected = FrameReport("f", "id-1").to_json()
        expected.update(_json_names(changed))
        assert report.to_json() == expected

    def test_events_reach_the_next_handler_after_the_report(self) -> None:
        """The run's own handler gets every event, and sees the report already updated."""
        report = FrameReport("f")
        seen: list[tuple[Event, int]] = []
        recorder = Recorder(report, lambda event: seen.append((event, report.downloaded)))
        done = FileDone("a.jpg", 1)
        recorder(done)
        recorder(BytesReceived(5))
        assert seen == [(done, 1), (BytesReceived(5), 1)]
        assert recorder.report is report

    def test_a_frame_already_marked_interrupted_stays_so(self) -> None:
        """A report the CLI marked interrupted is not unmarked by a later FrameEnded."""
        report = FrameReport("f", interrupted=True)
        Recorder(report)(FrameEnded(1.0))
        assert report.interrupted


def _json_names(changed: dict[str, Any]) -> dict[str, Any]:
    """FrameReport attribute names -> their --json keys."""
    names = {"missing": "missing_locally", "linked": "duplicates_linked"}
    names.update(
        duplicates="duplicates_skipped", damaged="damaged_refetched", changed="changed_locally"
    )
    out = {names.get(key, key): value for key, value in changed.items()}
    if "failures" in out:
        out["failures"] = [{"path": p, "reason": r} for p, r in out["failures"]]
    return out


class TestSummaryLine:
    def test_plain_line(self) -> None:
        """Without unusual figures the line is the six figures and nothing more."""
        report = FrameReport(
            "home", downloaded=3, skipped=10, failed=1, bytes=1536, seconds=2.3, throttled=4
        )
        assert report.summary_line() == (
            "home: 3 downloaded, 10 skipped, 1 failed, 1.5 KiB, 2.3s, 4 throttled"
        )

    def test_summary_line_extras(self) -> None:
        """The one-line summary names every unusual figure, in the singular for one."""
        report = FrameReport(
            "f",
            placeholders=2,
            excluded=3,
            missing=1,
            linked=4,
            duplicates=5,
            removed=["x.jpg"],
            interrupted=True,
            bytes=3 * 1024**3,
        )
        line = report.summary_line()
        assert "3.0 GiB" in line
        assert "1 placeholder," in FrameReport("f", placeholders=1, excluded=1).summary_line()
        assert "(1 duplicate linked, 1 duplicate skipped)" in (
            FrameReport("f", linked=1, duplicates=1).summary_line()
        )
        for part in (
            "2 placeholders",
            "3 excluded",
            "1 missing locally",
            "4 duplicates linked",
            "5 duplicates skipped",
            "1 removed from the frame",
            "interrupted",
        ):
            assert part in line

    def test_the_extras_of_damage_and_unfinished_runs(self) -> None:
        """Damage fetched again, local edits kept, a listing cut short, videos not ready and
        files not attempted are each named."""
        report = FrameReport(
            "f",
            damaged=2,
            changed=["a.jpg"],
            listing_complete=False,
            not_ready=3,
            not_attempted=4,
        )
        line = report.summary_line()
        for part in (
            "2 damaged on disk, fetched again",
            "1 changed locally, kept (see --verify)",
            "listing stopped early by --until-found",
            "3 videos not ready on Aura yet, fetched later",
            "4 not attempted: the next run fetches them",
        ):
            assert part in line

    def test_extras_in_order_in_brackets(self) -> None:
        """The extras follow the figures in brackets, in a fixed order."""
        report = FrameReport("f", missing=2, placeholders=1, interrupted=True)
        assert report.summary_line().endswith(
            "0 throttled (1 placeholder, 2 missing locally, interrupted)"
        )


class TestJson:
    def test_every_field_under_its_documented_key(self) -> None:
        """--json carries every figure under the key the README documents."""
        report = FrameReport(
            "home",
            "fid",
            started_at=1_700_000_000.0,
            finished_at=1_700_000_042.0,
            exit_code=1,
            listed=30,
            downloaded=5,
            skipped=20,
            placeholders=1,
            excluded=2,
            failed=1,
            bytes=1000,
            seconds=1.23456,
            throttled=3,
            missing=4,
            duplicates=6,
            linked=7,
            interrupted=True,
            error="boom",
            failures=[("a.jpg", "not found")],
            removed=["old.jpg"],
            damaged=8,
            not_ready=9,
            not_attempted=10,
            listing_complete=False,
            changed=["mine.jpg"],
        )
        assert report.to_json() == {
            "frame": "home",
            "frame_id": "fid",
            "started_at": local_time(1_700_000_000.0),
            "finished_at": local_time(1_700_000_042.0),
            "exit_code": 1,
            "listed": 30,
            "downloaded": 5,
            "skipped": 20,
            "placeholders": 1,
            "excluded": 2,
            "failed": 1,
            "bytes": 1000,
            "seconds": 1.235,
            "throttled": 3,
            "missing_locally": 4,
            "duplicates_linked": 7,
            "duplicates_skipped": 6,
            "interrupted": True,
            "error": "boom",
            "failures": [{"path": "a.jpg", "reason": "not found"}],
            "removed": ["old.jpg"],
            "listing_complete": False,
            "not_attempted": 10,
            "not_ready": 9,
            "damaged_refetched": 8,
            "changed_locally": ["mine.jpg"],
        }


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (1023 * 1024, "1023.0 KiB"),
        (1024**2, "1.0 MiB"),
        (5 * 1024**2 + 512 * 1024, "5.5 MiB"),
        (1024**3, "1.0 GiB"),
        (3 * 1024**3, "3.0 GiB"),
        (2048 * 1024**3, "2048.0 GiB"),
    ],
)
def test_human_bytes(count: int, text: str) -> None:
    """Binary multiples named as such (IEC), one decimal, GiB at most."""
    assert human_bytes(count) == text


@pytest.mark.parametrize(
    ("count", "word", "words", "text"),
    [
        (0, "file", None, "0 files"),
        (1, "file", None, "1 file"),
        (2, "file", None, "2 files"),
        (1, "Live Photo", None, "1 Live Photo"),
        (3, "copy", "copies", "3 copies"),
        (1, "copy", "copies", "1 copy"),
    ],
)
def test_plural(count: int, word: str, words: str | None, text: str) -> None:
    """One word for one, the plural (word + s, or the one given) otherwise."""
    assert plural(count, word, words) == text


@pytest.mark.parametrize("when", [0.0, 1_700_000_000.0, 1_700_000_000.7])
def test_local_time(when: float) -> None:
    """Unix time as ISO 8601 local time with its offset, to the second; None stays None."""
    text = local_time(when)
    assert text is not None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", text)
    assert datetime.fromisoformat(text).timestamp() == int(when)
    assert local_time(None) is None
