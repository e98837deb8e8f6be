"""The emulated server's formats that are not JSON: the listing's opaque page cursor
(``cursor``, ``next_page_cursor``) and the ``Range`` header of a resumed media request.

Plain functions of text: :class:`~aura_async.emulator.app.Emulator` answers a bad cursor
with 400 and a range it cannot serve with 416.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["decode_cursor", "encode_cursor", "parse_range"]


def encode_cursor(offset: int) -> str:
    """The listing's opaque cursor of the page that begins at ``offset``."""
    return base64.urlsafe_b64encode(f"v1:{offset}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    """The offset a cursor of :func:`encode_cursor` stands for (0 for none).

    Raises:
        ValueError: it is not such a cursor.
    """
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(cursor) from exc
    prefix, _, number = text.partition(":")
    if prefix != "v1" or not number.isdigit():
        raise ValueError(cursor)
    return int(number)


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The bytes ``[start, end)`` of a body of ``size`` bytes that a ``Range`` header asks
    for (cut to the body), or ``None`` for one this server does not serve: another unit,
    several ranges, a suffix range, or one that begins past the body or ends before it
    begins."""
    unit, _, spec = header.partition("=")
    first, _, last = spec.partition("-")
    if unit.strip() != "bytes" or "," in spec or not first.isdigit():
        return None
    start = int(first)
    end = int(last) + 1 if last.isdigit() else size
    if start >= size or end <= start:
        return None
    return start, min(end, size)
