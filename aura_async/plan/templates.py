"""``--folder-template`` and ``--name-template``: where each file goes, from tokens (pure).

A template is text with ``{token}`` fields (``{{`` and ``}}`` stand for literal braces)::

    {year} {month} {day}   from the first ten characters of taken_at
    {taken_at}             taken_at with every ':' replaced by '-', as in the old script's names
    {id} {uploader} {frame} {ext}

The defaults reproduce :func:`aura_async.plan.paths.media_relpath` exactly: ``Templates()`` gives
the old script's names, ``Templates(folder="{year}")`` gives the ``--years`` layout. Every
rendered path component goes through :func:`~aura_async.plan.paths.safe_component`, and a ``/``
typed in the folder template (never one that comes from a value) makes a sub-folder, so no
template and no server value can place a file outside the frame's folder.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable
from dataclasses import dataclass

from aura_async.exceptions import ConfigError
from aura_async.models import Asset, MediaKind
from aura_async.plan.paths import (
    clean_taken_at,
    join_name,
    media_extension,
    media_relpath,
    safe_component,
)

__all__ = ["DEFAULT_NAME", "TOKENS", "Templates"]

DEFAULT_NAME = "{taken_at}_{id}{ext}"
"""The old script's name: ``taken_at.replace(':', '-') + '_' + id + ext``."""

UNKNOWN_UPLOADER = "unknown"
"""``{uploader}`` for assets whose uploader the listing does not name."""
UNDATED = "undated"
"""``{taken_at}`` for placeholder rows, which have no capture time."""


@dataclass(frozen=True, slots=True)
class _Values:
    asset: Asset
    kind: MediaKind
    frame: str

    @property
    def cleaned(self) -> str | None:
        taken = self.asset.taken_at
        return None if taken is None else clean_taken_at(taken)


def _year(v: _Values) -> str:
    # Exactly what --years uses (the first four characters), so {year} and --years agree.
    return "0000" if v.cleaned is None else v.cleaned[:4]


def _month(v: _Values) -> str:
    return (v.cleaned or "")[5:7] or "00"


def _day(v: _Values) -> str:
    return (v.cleaned or "")[8:10] or "00"


TOKENS: dict[str, Callable[[_Values], str]] = {
    "year": _year,
    "month": _month,
    "day": _day,
    "taken_at": lambda v: UNDATED if v.cleaned is None else v.cleaned,
    "id": lambda v: v.asset.id,
    "uploader": lambda v: v.asset.uploader_name or UNKNOWN_UPLOADER,
    "frame": lambda v: v.frame,
    "ext": lambda v: media_extension(v.asset, v.kind),
}
"""Every token a template may use, with how it is computed."""

_KNOWN = ", ".join(f"{{{name}}}" for name in TOKENS)
_Piece = tuple[str, str | None]  # (literal text, token name or None)


@functools.lru_cache(maxsize=64)
def _parse(template: str, what: str) -> list[_Piece]:
    """Split ``template`` into literal text and token names (cached: templates are few).

    Raises:
        ConfigError: unbalanced braces, an unknown token, a conversion or a format spec.
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"bad braces in {what} {template!r}: {exc}") from exc
    pieces: list[_Piece] = []
    for literal, field, spec, conversion in parsed:
        if field is None:
            pieces.append((literal, None))
            continue
        token = (
            "{"
            + field
            + ("!" + conversion if conversion else "")
            + (":" + spec if spec else "")
            + "}"
        )
        if field not in TOKENS or spec or conversion:
            raise ConfigError(f"unknown token {token} in {what} {template!r}; known: {_KNOWN}")
        pieces.append((literal, field))
    return pieces


def _render(pieces: list[_Piece], values: _Values) -> str:
    return "".join(literal + (TOKENS[name](values) if name else "") for literal, name in pieces)


@dataclass(frozen=True, slots=True)
class Templates:
    """Where each downloaded file goes, relative to the frame's ``file_path``.

    Attributes:
        folder: folder template; ``/`` separates levels, ``""`` means the frame folder itself.
        name: file name template; must contain ``{id}`` and ``{ext}``.
    """

    folder: str = ""
    name: str = DEFAULT_NAME

    def validate(self) -> None:
        """Check both templates before any download starts.

        Raises:
            ConfigError: a one-line message for unbalanced braces, an unknown token (listing
                the known ones), an empty folder level (leading, trailing or doubled ``/``), a
                ``/`` in the name, or a name without ``{id}`` (two assets would share a file)
                or ``{ext}`` (a video's poster and its clip would share a file).
        """
        self._folder_levels()
        self._name_pieces()

    def _folder_levels(self) -> list[list[_Piece]]:
        if not self.folder:
            return []
        levels = self.folder.split("/")
        if "" in levels:
            raise ConfigError(
                f"empty level in folder template {self.folder!r}: "
                "no leading, trailing or doubled '/'"
            )
        return [_parse(level, "folder template") for level in levels]

    def _name_pieces(self) -> list[_Piece]:
        if "/" in self.name:
            raise ConfigError(
                f"'/' in name template {self.name!r}; put folders in the folder template"
            )
        pieces = _parse(self.name, "name template")
        used = {name for _, name in pieces}
        for required, why in (
            ("id", "two assets would share a file"),
            ("ext", "a clip and its still would share a file"),
        ):
            if required not in used:
                raise ConfigError(f"name template {self.name!r} lacks {{{required}}}: {why}")
        return pieces

    def relpath(self, asset: Asset, kind: MediaKind, frame: str) -> str:
        """The ``/``-separated path of one of the asset's files below the frame's folder.

        Args:
            asset: the asset; placeholders render ``{taken_at}`` as ``undated`` and the date
                tokens as zeros.
            kind: ``PHOTO`` for the still, ``VIDEO``/``LIVE`` for the clip (``{ext}``).
            frame: the frame's name in the configuration (``{frame}``).

        Returns:
            One safe component per folder level, then the file name. When the name template
            ends with ``{ext}``, shortening an over-long name never cuts the extension.

        Raises:
            ConfigError: the templates are invalid (see :meth:`validate`).
        """
        if self.name == DEFAULT_NAME and self.folder in ("", "{year}") and asset.taken_at:
            # The old script's layouts, by the same code that names them (a fast path for
            # 20,000-photo frames; equal by construction, checked by the tests).
            return media_relpath(asset, kind, years=bool(self.folder))
        values = _Values(asset, kind, frame)
        parts = [safe_component(_render(level, values)) for level in self._folder_levels()]
        pieces = self._name_pieces()
        last_literal, last_field = pieces[-1]
        if last_field == "ext":
            stem = _render([*pieces[:-1], (last_literal, None)], values)
            parts.append(join_name(stem, TOKENS["ext"](values)))
        else:
            parts.append(safe_component(_render(pieces, values)))
        return "/".join(parts)
