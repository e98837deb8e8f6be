"""metadata/structure.py: whether a JPEG or an MP4/MOV is whole or cut short (pure)."""

from __future__ import annotations

import pytest

from aura_async.emulator.data import _make_jpeg, _video_range
from aura_async.metadata.structure import Shape, Verdict, judge, shape_of


def _shape(data: bytes) -> Shape:
    def read_at(offset: int, count: int) -> bytes:
        return data[offset : offset + count]

    return shape_of(len(data), read_at)


JPEG = _make_jpeg("a photo", 20_000)
VIDEO = _video_range("a clip", 50_000, 0, 50_000)


def _box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def _large_box(kind: bytes, payload: bytes) -> bytes:
    return b"\x00\x00\x00\x01" + kind + (16 + len(payload)).to_bytes(8, "big") + payload


MOV = _box(b"ftyp", b"qt  \x00\x00\x00\x00qt  ") + _box(b"wide", b"") + _box(b"mdat", b"x" * 999)


@pytest.mark.parametrize(
    ("data", "shape"),
    [
        (b"", Shape.CUT),
        (JPEG, Shape.WHOLE),
        (JPEG[:-1], Shape.CUT),
        (JPEG[: len(JPEG) // 2], Shape.CUT),
        (JPEG + b"\x00" * 3, Shape.WHOLE),  # zero padding after the end marker
        (JPEG[:2], Shape.CUT),
        (VIDEO, Shape.WHOLE),
        (VIDEO[:-1], Shape.CUT),
        (VIDEO[:30], Shape.CUT),  # inside the mdat header
        (VIDEO[:20], Shape.CUT),  # inside the ftyp box
        (MOV, Shape.WHOLE),
        (MOV[:-500], Shape.CUT),
        (MOV + b"\x00\x00", Shape.CUT),  # a box header cut after its first bytes
        (_box(b"ftyp", b"isom") + _large_box(b"mdat", b"y" * 100), Shape.WHOLE),
        (_box(b"ftyp", b"isom") + _large_box(b"mdat", b"y" * 100)[:-1], Shape.CUT),
        (_box(b"ftyp", b"isom") + b"\x00\x00\x00\x00mdat" + b"z" * 10, Shape.WHOLE),  # to EOF
        (_box(b"ftyp", b"isom") + b"\x00\x00\x00\x03mdat", Shape.UNKNOWN),  # a nonsense size
        (b"not a photo at all", Shape.UNKNOWN),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, Shape.UNKNOWN),
    ],
    ids=[
        "empty",
        "jpeg",
        "jpeg-1",
        "jpeg-half",
        "jpeg-padded",
        "jpeg-soi-only",
        "mp4",
        "mp4-1",
        "mp4-in-mdat-header",
        "mp4-in-ftyp",
        "mov",
        "mov-cut",
        "mov-dangling-header",
        "mp4-64bit",
        "mp4-64bit-cut",
        "mp4-box-to-eof",
        "mp4-bad-size",
        "text",
        "png",
    ],
)
def test_shape_of(data: bytes, shape: Shape) -> None:
    """Each file's structure says whether it is whole, cut, or not checkable."""
    assert _shape(data) is shape


def test_the_reader_is_asked_only_for_what_the_rules_need() -> None:
    """A photo costs two reads (its head and its tail), a video one per box, not the file."""
    asked: list[tuple[int, int]] = []

    def read_at(offset: int, count: int) -> bytes:
        asked.append((offset, count))
        return JPEG[offset : offset + count]

    shape_of(len(JPEG), read_at)
    assert len(asked) == 2
    assert sum(count for _, count in asked) < len(JPEG)


@pytest.mark.parametrize(
    ("size", "recorded", "shape", "verdict"),
    [
        (0, 100, Shape.UNKNOWN, Verdict.DAMAGED),
        (0, None, Shape.CUT, Verdict.DAMAGED),
        (100, 100, Shape.WHOLE, Verdict.OK),
        (100, None, Shape.WHOLE, Verdict.OK),
        (100, None, Shape.UNKNOWN, Verdict.OK),
        (50, 100, Shape.CUT, Verdict.DAMAGED),
        (50, None, Shape.CUT, Verdict.DAMAGED),
        (150, 100, Shape.CUT, Verdict.DAMAGED),
        (50, 100, Shape.WHOLE, Verdict.EDITED),  # re-saved smaller by the user
        (150, 100, Shape.WHOLE, Verdict.EDITED),
        (50, 100, Shape.UNKNOWN, Verdict.DAMAGED),  # nothing but its size: cut
        (150, 100, Shape.UNKNOWN, Verdict.EDITED),
    ],
)
def test_judge(size: int, recorded: int | None, shape: Shape, verdict: Verdict) -> None:
    """Empty or cut is damage; whole but another size is the user's edit."""
    assert judge(size, recorded, shape) is verdict
