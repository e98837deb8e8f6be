"""Write Aura's metadata into JPEGs that have no EXIF, without touching the image (pure).

Aura's image route serves an imgproxy re-encode with the metadata stripped (aura-api.md
section 4), so photo libraries would sort every photo by its download date. :func:`add_exif`
inserts one APP1 ``Exif`` segment holding the capture time, the uploader, the caption and the
place; every byte of the original after the insertion point is kept, so the image data is
never decoded or re-encoded.

Choices, after the Exif 2.32 specification (CIPA DC-008) and common practice:

- The segment goes right after SOI, or after the leading APP0 segments (JFIF, JFXX) when there
  are any, where exiftool puts it too. A JPEG that already has an Exif APP1 is returned
  unchanged: the camera's data is better than ours.
- Input that is not a JPEG (no SOI marker) is returned unchanged rather than rejected: the
  image route may one day serve HEIC (imgproxy's ``f_heic``), and missing metadata must never
  cost the download. The same object comes back whenever nothing was added, so callers can
  test ``result is jpeg``.
- ``taken_at`` is a UTC instant in the API (``2023-10-04T13:10:37.690Z``, aura-api.md,
  conventions). DateTimeOriginal therefore holds UTC wall time with OffsetTimeOriginal
  ``+00:00``, so viewers that honour the offset show the right local time. A value with an
  explicit offset keeps its wall time and that offset; one without a zone (the older
  ``2018-10-27 21:45:38`` form) gets no OffsetTimeOriginal. Milliseconds go to
  SubSecTimeOriginal. An unparseable value writes no date at all.
- Artist and ImageDescription are EXIF ``ASCII`` fields but carry UTF-8 bytes here, the
  common practice for names and captions that are rarely ASCII (Exif 3.0's UTF-8 type is
  still unknown to most readers; Pillow shows such bytes decoded as Latin-1). NUL characters are
  dropped (they end an ASCII field) and each text is cut, on a character boundary, to
  :data:`MAX_TEXT_BYTES` so the segment stays under JPEG's 64 KiB limit.
- GPS is written as degrees, minutes and seconds rationals (seconds to 1/10000"), latitude from
  ``location[0]``, longitude from ``location[1]``. A location that is not finite or lies
  outside ±90°/±180° is left out, as in the sidecars.
"""

from __future__ import annotations

import math
import re
import struct
from datetime import datetime

__all__ = ["MAX_TEXT_BYTES", "add_exif", "exif_tags_present"]

MAX_TEXT_BYTES = 30_000
"""Longest Artist or ImageDescription written, in UTF-8 bytes (two fit in one segment)."""

_SOI = b"\xff\xd8"
_APP0 = 0xE0
_APP1 = 0xE1
_SOS = 0xDA
_EOI = 0xD9
_EXIF_HEADER = b"Exif\x00\x00"
_MAX_SEGMENT = 0xFFFF  # the length field counts itself and the payload

# TIFF field types (TIFF 6.0 section 2).
_BYTE, _ASCII, _LONG, _RATIONAL, _UNDEFINED = 1, 2, 4, 5, 7

_TAKEN_AT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?"
)
_SEC_DENOMINATOR = 10_000

_Entry = tuple[int, int, int, bytes]  # tag, type, count, value bytes (little-endian)


def _segments(jpeg: bytes) -> list[tuple[int, int, int]]:
    """``(marker, start, end)`` of each segment between SOI and SOS, as far as they parse."""
    found: list[tuple[int, int, int]] = []
    pos = len(_SOI)
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF:
        marker = jpeg[pos + 1]
        if marker == 0xFF:  # fill byte before a marker (ITU T.81 B.1.1.2)
            pos += 1
            continue
        if marker in (_SOS, _EOI):
            break
        (length,) = struct.unpack_from(">H", jpeg, pos + 2)
        end = pos + 2 + length
        if length < 2 or end > len(jpeg):
            break
        found.append((marker, pos, end))
        pos = end
    return found


def _is_exif(jpeg: bytes, marker: int, start: int) -> bool:
    return marker == _APP1 and jpeg[start + 4 : start + 4 + len(_EXIF_HEADER)] == _EXIF_HEADER


def exif_tags_present(jpeg: bytes) -> bool:
    """Whether ``jpeg`` already holds an Exif APP1 segment before its image data.

    Args:
        jpeg: the file's bytes.

    Returns:
        ``True`` when an APP1 segment starting ``Exif\\0\\0`` precedes SOS; ``False`` for
        JPEGs without one and for anything that is not a JPEG.
    """
    if not jpeg.startswith(_SOI):
        return False
    return any(_is_exif(jpeg, marker, start) for marker, start, _ in _segments(jpeg))


def _ascii(value: str) -> bytes:
    return value.encode("ascii") + b"\x00"


def _text(value: str) -> bytes:
    raw = value.replace("\x00", "").encode("utf-8", "replace")
    if len(raw) > MAX_TEXT_BYTES:
        raw = raw[:MAX_TEXT_BYTES].decode("utf-8", "ignore").encode("utf-8")
    return raw + b"\x00"


def _date_entries(taken_at: str) -> list[_Entry]:
    match = _TAKEN_AT.fullmatch(taken_at)
    if not match:
        return []
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        return []
    stamp = _ascii(f"{year}:{month}:{day} {hour}:{minute}:{second}")
    entries: list[_Entry] = [
        (0x9000, _UNDEFINED, 4, b"0232"),  # ExifVersion: 2.32 defines OffsetTimeOriginal
        (0x9003, _ASCII, len(stamp), stamp),  # DateTimeOriginal
    ]
    if zone:
        offset = "+00:00" if zone == "Z" else f"{zone[:3]}:{zone[-2:]}"
        entries.append((0x9011, _ASCII, 7, _ascii(offset)))  # OffsetTimeOriginal
    if fraction:
        subsec = _ascii(fraction)
        entries.append((0x9291, _ASCII, len(subsec), subsec))  # SubSecTimeOriginal
    return entries


def _dms(value: float) -> bytes:
    # Integer arithmetic on 1/10000 arc-seconds: no 60" or 60' ever comes out of rounding.
    total = round(abs(value) * 3600 * _SEC_DENOMINATOR)
    degrees, rest = divmod(total, 3600 * _SEC_DENOMINATOR)
    minutes, seconds = divmod(rest, 60 * _SEC_DENOMINATOR)
    return struct.pack("<6I", degrees, 1, minutes, 1, seconds, _SEC_DENOMINATOR)


def _gps_entries(gps: tuple[float, float] | None) -> list[_Entry]:
    if gps is None:
        return []
    lat, lon = gps
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return []
    return [
        (0x0000, _BYTE, 4, bytes([2, 3, 0, 0])),  # GPSVersionID
        (0x0001, _ASCII, 2, _ascii("S" if lat < 0 else "N")),  # GPSLatitudeRef
        (0x0002, _RATIONAL, 3, _dms(lat)),  # GPSLatitude
        (0x0003, _ASCII, 2, _ascii("W" if lon < 0 else "E")),  # GPSLongitudeRef
        (0x0004, _RATIONAL, 3, _dms(lon)),  # GPSLongitude
    ]


def _ifd_size(entries: list[_Entry]) -> int:
    data = sum(len(value) + len(value) % 2 for *_, value in entries if len(value) > 4)
    return 2 + 12 * len(entries) + 4 + data


def _ifd(entries: list[_Entry], offset: int) -> bytes:
    """One IFD at ``offset`` from the TIFF header, its long values right after it."""
    data_at = offset + 2 + 12 * len(entries) + 4
    table = [struct.pack("<H", len(entries))]
    data: list[bytes] = []
    for tag, kind, count, value in sorted(entries):
        if len(value) <= 4:
            table.append(struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\x00"))
        else:
            table.append(struct.pack("<HHII", tag, kind, count, data_at))
            padded = value + b"\x00" * (len(value) % 2)  # values start on word boundaries
            data.append(padded)
            data_at += len(padded)
    table.append(struct.pack("<I", 0))  # no next IFD (no thumbnail)
    return b"".join(table + data)


def _tiff(ifd0: list[_Entry], exif: list[_Entry], gps: list[_Entry]) -> bytes:
    pointers = [(0x8769, exif), (0x8825, gps)]  # ExifIFDPointer, GPSInfoIFDPointer
    present = [(tag, entries) for tag, entries in pointers if entries]
    # Pointer values are filled in below; reserve their entries to size IFD0.
    ifd0 = ifd0 + [(tag, _LONG, 1, b"\x00" * 4) for tag, _ in present]
    offset = 8 + _ifd_size(ifd0)
    subs: list[bytes] = []
    for tag, entries in present:
        ifd0 = [e if e[0] != tag else (tag, _LONG, 1, struct.pack("<I", offset)) for e in ifd0]
        subs.append(_ifd(entries, offset))
        offset += len(subs[-1])
    return b"II*\x00" + struct.pack("<I", 8) + _ifd(ifd0, 8) + b"".join(subs)


def add_exif(
    jpeg: bytes,
    *,
    taken_at: str | None,
    artist: str | None,
    description: str | None,
    gps: tuple[float, float] | None,
) -> bytes:
    """Insert an Exif APP1 segment into a JPEG that has none; the image data stays as is.

    Args:
        jpeg: the file's bytes.
        taken_at: the API's ``taken_at`` (DateTimeOriginal, OffsetTimeOriginal,
            SubSecTimeOriginal); see the module docstring for the time zone rules.
        artist: the uploader's name (Artist, 0x013B).
        description: the captions (ImageDescription, 0x010E).
        gps: ``(latitude, longitude)`` in degrees, negative for south and west.

    Returns:
        ``jpeg[:k] + segment + jpeg[k:]`` where ``k`` is the end of SOI and any leading APP0
        segments. ``jpeg`` itself when it is not a JPEG, already has Exif, or no field has a
        usable value.
    """
    if not jpeg.startswith(_SOI) or exif_tags_present(jpeg):
        return jpeg
    ifd0: list[_Entry] = []
    if description:
        value = _text(description)
        ifd0.append((0x010E, _ASCII, len(value), value))  # ImageDescription
    if artist:
        value = _text(artist)
        ifd0.append((0x013B, _ASCII, len(value), value))  # Artist
    exif = _date_entries(taken_at) if taken_at else []
    gps_entries = _gps_entries(gps)
    if not (ifd0 or exif or gps_entries):
        return jpeg
    payload = _EXIF_HEADER + _tiff(ifd0, exif, gps_entries)
    assert len(payload) + 2 <= _MAX_SEGMENT, "MAX_TEXT_BYTES keeps the segment small"
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    insert_at = len(_SOI)
    for marker, _, end in _segments(jpeg):
        if marker != _APP0:
            break
        insert_at = end
    return jpeg[:insert_at] + segment + jpeg[insert_at:]
