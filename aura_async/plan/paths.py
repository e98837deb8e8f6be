"""File names compatible with the old script, the ``--years`` layout, and sanitising (pure).

The old script named a file ``taken_at.replace(':', '-') + '_' + id + splitext(file_name)[1]``
and, with ``--years``, put it under ``file_path/<first 4 chars>/``. Those names are a
compatibility contract (DESIGN.md): for every value the real API sends they come out
unchanged. Only hostile values (path separators, ``..``, control characters, Windows-reserved
names, overlong names) are rewritten, deterministically, so nothing is ever written outside the
frame's folder.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from urllib.parse import urlsplit

from aura_async.models import Asset, MediaKind

__all__ = [
    "clean_taken_at",
    "clip_extension",
    "join_name",
    "media_extension",
    "media_name",
    "media_relpath",
    "safe_component",
]

_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)
_PLAIN_EXT = re.compile(r"\.[A-Za-z0-9]{1,10}")
PART_SUFFIX = ".part"
"""Appended to a file's name while it is being written; never a final name."""
MAX_NAME_BYTES = 200
"""Below every common file system's 255-byte limit, leaving room for ``.part``."""
DEFAULT_CLIP_EXT = ".mp4"


def safe_component(text: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """Make ``text`` a safe single path component on POSIX and Windows alike.

    Values that are already safe are returned unchanged; longer ones are cut to ``max_bytes``
    and end in a short hash of the whole, so distinct values stay distinct.
    """
    name = _UNSAFE.sub("_", text)
    if name.rstrip(" .") != name:
        # Windows drops trailing dots and spaces, which would merge distinct names.
        name = name.rstrip(" .") + "_"
    if name in ("", ".", ".."):
        name = "_" + name
    if name.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:  # as Windows reads "CON .x"
        name = "_" + name
    encoded = name.encode("utf-8")
    if len(encoded) > max_bytes:
        digest = hashlib.sha256(encoded).hexdigest()[:12]
        head = encoded[: max_bytes - 13].decode("utf-8", "ignore")
        name = f"{head}~{digest}"
    return name


def _extension(file_name: str) -> str:
    ext = posixpath.splitext(file_name)[1]
    if _PLAIN_EXT.fullmatch(ext):
        return ext
    return safe_component(ext)[:16] if ext else ""


def clip_extension(asset: Asset) -> str:
    """Extension of the asset's clip: from ``video_file_name``, else the URL, else ``.mp4``."""
    for candidate in (asset.video_file_name, urlsplit(asset.video_url or "").path):
        if candidate:
            ext = _extension(candidate)
            if ext:
                break
    else:
        ext = DEFAULT_CLIP_EXT
    still = _extension(asset.file_name) if asset.file_name else ""
    # A clip must never take the still's name.
    return DEFAULT_CLIP_EXT if ext.lower() == still.lower() else ext


def clean_taken_at(taken_at: str) -> str:
    """``taken_at`` as it appears in file names: every ``:`` replaced by ``-``, nothing else.

    Args:
        taken_at: the API's value, exactly as sent.

    Returns:
        The old script's ``taken_at.replace(':', '-')``.
    """
    return taken_at.replace(":", "-")


def media_extension(asset: Asset, kind: MediaKind) -> str:
    """The extension (with its dot, possibly empty) of one of the asset's files.

    Args:
        asset: the asset.
        kind: ``PHOTO`` for the still (extension of ``file_name``), ``VIDEO``/``LIVE`` for the
            clip (see :func:`clip_extension`).

    Returns:
        A safe extension such as ``.jpeg``, or ``""`` when the still's name has none.
    """
    return _extension(asset.file_name or "") if kind is MediaKind.PHOTO else clip_extension(asset)


def join_name(stem: str, ext: str) -> str:
    """A safe file name made of ``stem`` and ``ext``; shortening never cuts the extension.

    Args:
        stem: the name without its extension, not yet sanitised.
        ext: an extension from :func:`media_extension`.

    Returns:
        ``safe_component(stem) + ext``, the stem cut so that the whole fits ``MAX_NAME_BYTES``.
    """
    return safe_component(stem, MAX_NAME_BYTES - len(ext.encode("utf-8"))) + ext


def media_name(asset: Asset, kind: MediaKind) -> str:
    """The file name of one of the asset's files, as the old script would have chosen it.

    Args:
        asset: a non-placeholder asset (``taken_at`` set).
        kind: ``PHOTO`` for the still, ``VIDEO``/``LIVE`` for the clip.
    """
    assert asset.taken_at is not None, "placeholders have no file name"
    return join_name(f"{clean_taken_at(asset.taken_at)}_{asset.id}", media_extension(asset, kind))


def media_relpath(asset: Asset, kind: MediaKind, *, years: bool) -> str:
    """Path of the file relative to the frame's ``file_path``, ``/``-separated.

    With ``years`` the file goes under the first four characters of the cleaned ``taken_at``.
    """
    name = media_name(asset, kind)
    if not years:
        return name
    assert asset.taken_at is not None
    return f"{safe_component(clean_taken_at(asset.taken_at)[:4])}/{name}"
