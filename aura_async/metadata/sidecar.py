"""Metadata sidecars written next to each downloaded file: JSON and XMP (pure).

Aura keeps the caption, the uploader, the capture time and the place of a photo on its
servers only; the image it serves carries none of them. A sidecar keeps them with the file.

Naming: the sidecar of ``x.jpeg`` is ``x.jpeg.xmp`` (media file name + :data:`SIDECAR_SUFFIX`),
never ``x.xmp``. digiKam and darktable write and read ``name.ext.xmp``; Immich reads both forms
and prefers ``name.ext.xmp`` (immich-app/immich PRs #8186 and #8235). Lightroom's ``x.xmp``
form is used only for raw files, which Aura never serves, and it would be ambiguous here: a
Live Photo's still ``x.heic`` and its clip ``x.mov`` share the stem ``x``.

Values Aura does not know are ``null`` in JSON and left out of XMP. A location that is not
finite or lies outside ±90°/±180° is treated as unknown.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from aura_async.models import Asset

__all__ = [
    "AURA_NS",
    "SIDECAR_SUFFIX",
    "SIDECAR_VERSION",
    "sidecar_json",
    "sidecar_xmp",
    "xmp_date",
    "xmp_gps",
]

SIDECAR_SUFFIX = {"json": ".json", "xmp": ".xmp"}
"""Appended to the media file's full name: ``x.jpeg`` → ``x.jpeg.xmp``."""

SIDECAR_VERSION = 1
"""The ``sidecar_version`` key of the JSON sidecar; raised when a key changes meaning."""

AURA_NS = "http://ns.aura-async.invalid/1.0/"
"""XMP namespace of the ``aura:`` properties (the ``.invalid`` TLD never resolves, RFC 2606)."""

_NAMESPACES = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "aura": AURA_NS,
}
# Characters XML 1.0 forbids (and lone surrogates, which cannot be encoded as UTF-8).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# XMP dates are ISO 8601 with a 'T'; the older API format used a space (aura-api.md).
_ISO_DATE = re.compile(
    r"\d{4}(-\d{2}(-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def _location(asset: Asset) -> tuple[float, float] | None:
    if asset.location is None:
        return None
    lat, lon = asset.location
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return None
    return lat, lon


def _utf8(text: str | None) -> str | None:
    # A lone surrogate (JSON "\ud800") has no UTF-8 form: show it as U+FFFD.
    return None if text is None else _SURROGATE.sub("\ufffd", text)


def sidecar_json(asset: Asset, frame: str) -> bytes:
    """The JSON sidecar of an asset: what Aura knows about it, in a fixed key order.

    Args:
        asset: the asset the media file belongs to.
        frame: the frame's name in the configuration.

    Returns:
        UTF-8 JSON (non-ASCII kept as is), two-space indented, ending with a newline. Keys, in
        order: ``sidecar_version``, ``id``, ``frame``, ``uploader_id``, ``uploader_name``,
        ``captions`` (list), ``taken_at`` and ``uploaded_at`` (as sent), ``location``
        (``[lat, lon]`` or ``null``), ``location_name``, ``width``, ``height``, ``md5_hash``.
    """
    point = _location(asset)
    document: dict[str, Any] = {
        "sidecar_version": SIDECAR_VERSION,
        "id": _utf8(asset.id),
        "frame": _utf8(frame),
        "uploader_id": _utf8(asset.user_id),
        "uploader_name": _utf8(asset.uploader_name),
        "captions": [_utf8(caption) for caption in asset.captions],
        "taken_at": _utf8(asset.taken_at),
        "uploaded_at": _utf8(asset.uploaded_at),
        "location": list(point) if point else None,
        "location_name": _utf8(asset.location_name),
        "width": asset.width,
        "height": asset.height,
        "md5_hash": _utf8(asset.md5_hash),
    }
    text = json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False)
    return (text + "\n").encode("utf-8")


def xmp_date(value: str | None) -> str | None:
    """``value`` as an XMP date, or ``None`` when it is not an ISO 8601 date.

    Args:
        value: a timestamp as the API sends it, such as ``2023-10-04T13:10:37.690Z``.

    Returns:
        The value unchanged (its ``Z`` or offset kept), except that a space between date and
        time becomes ``T``; ``None`` for anything else.
    """
    if value is None or not _ISO_DATE.fullmatch(value):
        return None
    return value.replace(" ", "T", 1)


def xmp_gps(value: float, positive: str, negative: str) -> str:
    """One coordinate in XMP's GPSCoordinate form ``DDD,MM.mmmmmmK``.

    Args:
        value: degrees, negative for south or west.
        positive: the hemisphere letter for ``value >= 0`` (``N`` or ``E``).
        negative: the hemisphere letter for ``value < 0`` (``S`` or ``W``).

    Returns:
        Whole degrees, a comma, minutes with six decimals (about 2 mm), the letter.
    """
    # Integer micro-minutes, so rounding can never produce "60.000000" minutes.
    degrees, micro = divmod(round(abs(value) * 60_000_000), 60_000_000)
    minutes, fraction = divmod(micro, 1_000_000)
    return f"{degrees},{minutes:02d}.{fraction:06d}{negative if value < 0 else positive}"


def _xml(text: str) -> str:
    # A raw CR would come back as LF (XML 1.0 section 2.11): keep it as a character reference.
    return escape(_NOT_XML.sub("\ufffd", text), {'"': "&quot;", "'": "&apos;", "\r": "&#13;"})


def sidecar_xmp(asset: Asset, frame: str) -> bytes:
    """The XMP sidecar of an asset, readable by digiKam, darktable, Immich and exiftool.

    Args:
        asset: the asset the media file belongs to.
        frame: the frame's name in the configuration.

    Returns:
        A UTF-8 ``x:xmpmeta``/``rdf:RDF`` packet with, when known: ``dc:description``
        (captions joined by newlines, ``x-default``), ``dc:creator`` (the uploader),
        ``exif:DateTimeOriginal``, ``xmp:CreateDate`` and ``photoshop:DateCreated`` (taken_at
        with its ``Z`` or offset as sent), ``exif:GPSLatitude``/``exif:GPSLongitude``, and in
        the ``aura:`` namespace (:data:`AURA_NS`) ``AssetId``, ``Frame``, ``UploaderId``,
        ``TakenAt`` and ``UploadedAt`` (as sent), ``LocationName``, ``Md5Hash`` and
        ``Captions`` (one ``rdf:li`` per caption). Text is XML-escaped; characters XML 1.0
        cannot carry become U+FFFD.
    """
    props: list[str] = []
    if asset.captions:
        text = _xml("\n".join(asset.captions))
        props.append(
            "<dc:description><rdf:Alt>"
            f'<rdf:li xml:lang="x-default">{text}</rdf:li>'
            "</rdf:Alt></dc:description>"
        )
    if asset.uploader_name:
        props.append(
            "<dc:creator><rdf:Seq>"
            f"<rdf:li>{_xml(asset.uploader_name)}</rdf:li>"
            "</rdf:Seq></dc:creator>"
        )
    taken = xmp_date(asset.taken_at)
    if taken:
        for prop in ("exif:DateTimeOriginal", "xmp:CreateDate", "photoshop:DateCreated"):
            props.append(f"<{prop}>{taken}</{prop}>")
    point = _location(asset)
    if point:
        props.append(f"<exif:GPSLatitude>{xmp_gps(point[0], 'N', 'S')}</exif:GPSLatitude>")
        props.append(f"<exif:GPSLongitude>{xmp_gps(point[1], 'E', 'W')}</exif:GPSLongitude>")
    aura: list[tuple[str, str | None]] = [
        ("AssetId", asset.id),
        ("Frame", frame),
        ("UploaderId", asset.user_id),
        ("TakenAt", asset.taken_at),
        ("UploadedAt", asset.uploaded_at),
        ("LocationName", asset.location_name),
        ("Md5Hash", asset.md5_hash),
    ]
    props.extend(f"<aura:{name}>{_xml(value)}</aura:{name}>" for name, value in aura if value)
    if asset.captions:
        items = "".join(f"<rdf:li>{_xml(caption)}</rdf:li>" for caption in asset.captions)
        props.append(f"<aura:Captions><rdf:Seq>{items}</rdf:Seq></aura:Captions>")
    declarations = "".join(
        f"\n    xmlns:{prefix}={quoteattr(uri)}"
        for prefix, uri in _NAMESPACES.items()
        if prefix not in ("x", "rdf")
    )
    body = "".join(f"\n   {prop}" for prop in props)
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        f'<x:xmpmeta xmlns:x="{_NAMESPACES["x"]}" x:xmptk="aura-async">\n'
        f' <rdf:RDF xmlns:rdf="{_NAMESPACES["rdf"]}">\n'
        f'  <rdf:Description rdf:about=""{declarations}>{body}\n'
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>\n'
    )
    return packet.encode("utf-8")
