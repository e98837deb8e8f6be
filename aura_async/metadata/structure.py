"""Whether a photo or video file is whole or cut short, from its own structure (pure).

A power cut on a file system that did not sync, or a copy that stopped, leaves a file cut
at some byte. Photos are JPEG (the image server sends JPEG bytes even for ``.heic`` and
``.png`` names) and must end with the End Of Image marker, perhaps followed by zero
padding; videos are MP4/MOV (ISO base media), a sequence of boxes whose sizes must add up
to the file's size exactly. Anything else is :attr:`Shape.UNKNOWN`: its size is all there is
to judge it by.

The reader is injected (``read_at(offset, count) -> bytes``), so the rules are table-tested
on bytes and the disk is read only as far as they need: two bytes at each end of a JPEG,
eight or sixteen bytes per top-level box of a video.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

__all__ = ["ReadAt", "Shape", "Verdict", "judge", "shape_of"]

ReadAt = Callable[[int, int], bytes]
"""Reads ``count`` bytes at ``offset`` (fewer at the end of the file)."""

_SOI = b"\xff\xd8"
_EOI = b"\xff\xd9"
_TAIL = 4096
"""Bytes read at a JPEG's end: enough to step over any zero padding after its EOI."""
_BOX_TYPES = frozenset(
    {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"meta", b"moof"}
)
"""Top-level box types that begin an MP4/MOV file (ISO/IEC 14496-12, QuickTime)."""
_MAX_BOXES = 10_000


class Shape(StrEnum):
    """What a file's structure says."""

    WHOLE = "whole"
    """It ends where its structure says it ends."""
    CUT = "cut"
    """Its structure runs past its end (or it is empty)."""
    UNKNOWN = "unknown"
    """Not a JPEG or an MP4/MOV: nothing to check."""


def _jpeg(size: int, read_at: ReadAt) -> Shape:
    tail = read_at(max(0, size - _TAIL), min(size, _TAIL)).rstrip(b"\x00")
    return Shape.WHOLE if tail.endswith(_EOI) else Shape.CUT


def _boxes(size: int, read_at: ReadAt) -> Shape:
    offset = 0
    for _ in range(_MAX_BOXES):
        if offset == size:
            return Shape.WHOLE
        header = read_at(offset, 16)
        if len(header) < 8:
            return Shape.CUT
        length = int.from_bytes(header[:4], "big")
        if length == 1:  # a 64-bit size follows the type
            if len(header) < 16:
                return Shape.CUT
            length = int.from_bytes(header[8:16], "big")
            if length < 16:
                return Shape.UNKNOWN
        elif length == 0:  # the box runs to the end of the file
            return Shape.WHOLE
        elif length < 8:
            return Shape.UNKNOWN
        offset += length
        if offset > size:
            return Shape.CUT
    return Shape.UNKNOWN


def shape_of(size: int, read_at: ReadAt) -> Shape:
    """Whether a file of ``size`` bytes is whole, cut, or of a kind not checked here."""
    if size == 0:
        return Shape.CUT
    head = read_at(0, 8)
    if head.startswith(_SOI):
        return _jpeg(size, read_at)
    if len(head) == 8 and head[4:8] in _BOX_TYPES:
        return _boxes(size, read_at)
    return Shape.UNKNOWN


class Verdict(StrEnum):
    """What a run makes of a file it finds on disk."""

    OK = "ok"
    """Keep it."""
    DAMAGED = "damaged"
    """Empty or cut short: fetch it again."""
    EDITED = "edited"
    """Whole, but not the bytes recorded: the user's edit, reported and never overwritten."""


def judge(size: int, recorded: int | None, shape: Shape) -> Verdict:
    """The verdict on a file of ``size`` bytes whose record says ``recorded`` (``None``:
    not recorded, as a file adopted by name)."""
    if size == 0 or shape is Shape.CUT:
        return Verdict.DAMAGED
    if recorded is None or size == recorded:
        return Verdict.OK
    if shape is Shape.UNKNOWN and size < recorded:
        return Verdict.DAMAGED  # nothing else to go by: a shorter file was cut
    return Verdict.EDITED
