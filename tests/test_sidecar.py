"""JSON and XMP sidecars: every field present, escaped, and parseable back."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aura_async.metadata.sidecar import (
    AURA_NS,
    SIDECAR_SUFFIX,
    SIDECAR_VERSION,
    sidecar_json,
    sidecar_xmp,
    xmp_date,
    xmp_gps,
)
from aura_async.models import Asset

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "aura": AURA_NS,
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FULL = Asset(
    id="7321c22e-7a94-11f1-86ff-0affe06aea17",
    user_id="85feec8c-7d7c-11ed-a975-0e4972f5035b",
    file_name="B9A0E367.jpeg",
    taken_at="2023-10-04T13:10:37.690Z",
    uploaded_at="2026-09-03T12:29:16.039Z",
    md5_hash="oNFJ8ybC004XW3Sxh4Z1AA==",
    uploader_name="Grandma Rose",
    location=(43.8167, 1.7333),
    location_name="Coufouleux, France",
    width=1600,
    height=1200,
    captions=("First birthday", "Second caption"),
)
BARE = Asset(id="bare", user_id=None, file_name="a.jpg", taken_at=None)
HOSTILE = [
    "<script>alert('x')</script>",
    'Tom & Jerry\'s "party"',
    "]]> <!-- --> <?pi?> &amp; &#0;",
    "emoji 🎂👵🏽 and ß, 中文, עברית",
    "line one\nline two\r\nthree\ttab",
    "control \x00\x01\x1b\x7f chars",
    "lone surrogate \ud800 here",
]


def description(packet: bytes) -> ET.Element:
    """The single rdf:Description of an XMP packet."""
    root = ET.fromstring(packet)
    assert root.tag == f"{{{NS['x']}}}xmpmeta"
    found = root.find("rdf:RDF/rdf:Description", NS)
    assert found is not None
    return found


def text(desc: ET.Element, path: str) -> str | None:
    """The text of the element at ``path``, or None when absent."""
    element = desc.find(path, NS)
    return None if element is None else (element.text or "")


class TestSuffix:
    """Sidecar names append to the media file's full name."""

    def test_suffixes(self) -> None:
        """x.jpeg gets x.jpeg.json and x.jpeg.xmp (the digiKam/Immich form)."""
        assert {kind: "x.jpeg" + suffix for kind, suffix in SIDECAR_SUFFIX.items()} == {
            "json": "x.jpeg.json",
            "xmp": "x.jpeg.xmp",
        }


class TestJson:
    """The JSON sidecar."""

    def test_all_fields_in_order(self) -> None:
        """Every field is present, in the documented order, with the API's values."""
        raw = sidecar_json(FULL, "Family Frame")
        assert raw.endswith(b"}\n")
        data = json.loads(raw)
        assert list(data) == [
            "sidecar_version",
            "id",
            "frame",
            "uploader_id",
            "uploader_name",
            "captions",
            "taken_at",
            "uploaded_at",
            "location",
            "location_name",
            "width",
            "height",
            "md5_hash",
        ]
        assert data == {
            "sidecar_version": SIDECAR_VERSION,
            "id": FULL.id,
            "frame": "Family Frame",
            "uploader_id": FULL.user_id,
            "uploader_name": "Grandma Rose",
            "captions": ["First birthday", "Second caption"],
            "taken_at": "2023-10-04T13:10:37.690Z",
            "uploaded_at": "2026-09-03T12:29:16.039Z",
            "location": [43.8167, 1.7333],
            "location_name": "Coufouleux, France",
            "width": 1600,
            "height": 1200,
            "md5_hash": "oNFJ8ybC004XW3Sxh4Z1AA==",
        }

    def test_unknown_values_are_null(self) -> None:
        """A bare asset keeps every key, with null and an empty caption list."""
        data = json.loads(sidecar_json(BARE, "F"))
        assert data["captions"] == []
        nulls = {k for k, v in data.items() if v is None}
        assert nulls == {
            "uploader_id",
            "uploader_name",
            "taken_at",
            "uploaded_at",
            "location",
            "location_name",
            "width",
            "height",
            "md5_hash",
        }

    def test_deterministic_utf8(self) -> None:
        """Equal assets give equal bytes, and non-ASCII text is stored as UTF-8."""
        asset = Asset(id="i", captions=("Grand-mère 🎂",))
        assert sidecar_json(asset, "Été") == sidecar_json(asset, "Été")
        assert "Grand-mère 🎂".encode() in sidecar_json(asset, "Été")

    @pytest.mark.parametrize("caption", HOSTILE)
    def test_hostile_captions_round_trip(self, caption: str) -> None:
        """Any caption gives valid UTF-8 JSON that reads back (lone surrogates as U+FFFD)."""
        data = json.loads(sidecar_json(Asset(id="i", captions=(caption,)), "F").decode("utf-8"))
        assert data["captions"] == [caption.replace("\ud800", "\ufffd")]

    @pytest.mark.parametrize(
        "location",
        [(math.nan, 1.0), (1.0, math.inf), (91.0, 0.0), (0.0, -180.5)],
    )
    def test_impossible_location_is_null(self, location: tuple[float, float]) -> None:
        """A non-finite or out-of-range location is written as unknown, keeping JSON valid."""
        data = json.loads(sidecar_json(Asset(id="i", location=location), "F"))
        assert data["location"] is None


class TestXmpHelpers:
    """Dates and coordinates in XMP's forms."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("2023-10-04T13:10:37.690Z", "2023-10-04T13:10:37.690Z"),
            ("2023-10-04T13:10:37+02:00", "2023-10-04T13:10:37+02:00"),
            ("2018-10-27 21:45:38", "2018-10-27T21:45:38"),
            ("2018-10-27", "2018-10-27"),
            ("2018", "2018"),
            (None, None),
            ("", None),
            ("yesterday", None),
            ("2018-10-27T21:45:38<x>", None),
        ],
    )
    def test_xmp_date(self, value: str | None, expected: str | None) -> None:
        """ISO 8601 values pass unchanged (space becomes T); anything else is dropped."""
        assert xmp_date(value) == expected

    @pytest.mark.parametrize(
        ("value", "pos", "neg", "expected"),
        [
            (43.8167, "N", "S", "43,49.002000N"),
            (-33.8688, "N", "S", "33,52.128000S"),
            (1.7333, "E", "W", "1,43.998000E"),
            (-120.0324, "E", "W", "120,01.944000W"),
            (0.0, "N", "S", "0,00.000000N"),
            (-0.5, "E", "W", "0,30.000000W"),
            (179.99999999999, "E", "W", "180,00.000000E"),
        ],
    )
    def test_xmp_gps(self, value: float, pos: str, neg: str, expected: str) -> None:
        """Degrees, decimal minutes and the hemisphere letter, rounding carried correctly."""
        assert xmp_gps(value, pos, neg) == expected

    @given(st.floats(min_value=-180, max_value=180))
    def test_xmp_gps_round_trips(self, value: float) -> None:
        """Reading the coordinate back gives the value to within 1e-7 degrees."""
        coord = xmp_gps(value, "E", "W")
        degrees, minutes = coord[:-1].split(",")
        back = (int(degrees) + float(minutes) / 60) * (-1 if coord[-1] == "W" else 1)
        assert abs(back - value) < 1e-7


class TestXmp:
    """The XMP packet."""

    def test_every_field(self) -> None:
        """Each documented property parses back with the asset's value."""
        desc = description(sidecar_xmp(FULL, "Family Frame"))
        alt = desc.find("dc:description/rdf:Alt/rdf:li", NS)
        assert alt is not None
        assert alt.get(XML_LANG) == "x-default"
        assert alt.text == "First birthday\nSecond caption"
        assert text(desc, "dc:creator/rdf:Seq/rdf:li") == "Grandma Rose"
        for prop in ("exif:DateTimeOriginal", "xmp:CreateDate", "photoshop:DateCreated"):
            assert text(desc, prop) == "2023-10-04T13:10:37.690Z"
        assert text(desc, "exif:GPSLatitude") == "43,49.002000N"
        assert text(desc, "exif:GPSLongitude") == "1,43.998000E"
        assert text(desc, "aura:AssetId") == FULL.id
        assert text(desc, "aura:Frame") == "Family Frame"
        assert text(desc, "aura:UploaderId") == FULL.user_id
        assert text(desc, "aura:TakenAt") == FULL.taken_at
        assert text(desc, "aura:UploadedAt") == "2026-09-03T12:29:16.039Z"
        assert text(desc, "aura:LocationName") == "Coufouleux, France"
        assert text(desc, "aura:Md5Hash") == "oNFJ8ybC004XW3Sxh4Z1AA=="
        captions = [li.text for li in desc.findall("aura:Captions/rdf:Seq/rdf:li", NS)]
        assert captions == ["First birthday", "Second caption"]

    def test_packet_wrapper(self) -> None:
        """The packet is UTF-8 inside xpacket processing instructions and ends in a newline."""
        raw = sidecar_xmp(FULL, "F")
        assert raw.startswith(b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>')
        assert raw.endswith(b'<?xpacket end="w"?>\n')

    def test_unknown_values_are_left_out(self) -> None:
        """A bare asset has only its id and frame; no empty or fake properties."""
        desc = description(sidecar_xmp(BARE, "F"))
        assert [child.tag for child in desc] == [f"{{{AURA_NS}}}AssetId", f"{{{AURA_NS}}}Frame"]

    @pytest.mark.parametrize(
        ("location", "lat", "lon"),
        [
            ((-33.8688, 151.2093), "33,52.128000S", "151,12.558000E"),
            ((39.0968, -120.0324), "39,05.808000N", "120,01.944000W"),
            ((-0.25, -0.75), "0,15.000000S", "0,45.000000W"),
            ((math.nan, 0.0), None, None),
            ((100.0, 0.0), None, None),
        ],
    )
    def test_hemispheres(
        self, location: tuple[float, float], lat: str | None, lon: str | None
    ) -> None:
        """Latitude comes first in location; south and west get S and W; nonsense is left out."""
        desc = description(sidecar_xmp(Asset(id="i", location=location), "F"))
        assert text(desc, "exif:GPSLatitude") == lat
        assert text(desc, "exif:GPSLongitude") == lon

    @pytest.mark.parametrize(
        ("taken_at", "expected"),
        [("2018-10-27 21:45:38", "2018-10-27T21:45:38"), ("not a date", None)],
    )
    def test_dates(self, taken_at: str, expected: str | None) -> None:
        """Old space-separated values get a T; unparseable ones leave the date properties out."""
        desc = description(sidecar_xmp(Asset(id="i", taken_at=taken_at), "F"))
        assert text(desc, "exif:DateTimeOriginal") == expected
        assert text(desc, "aura:TakenAt") == taken_at

    @pytest.mark.parametrize("caption", HOSTILE)
    def test_hostile_text(self, caption: str) -> None:
        """Markup, entities, emoji and control characters in any field parse back as text."""
        asset = Asset(id=caption, uploader_name=caption, captions=(caption,), location_name=caption)
        desc = description(sidecar_xmp(asset, caption))
        expected = "".join(
            "\ufffd" if (ord(c) < 32 and c not in "\t\n\r") or 0xD800 <= ord(c) <= 0xDFFF else c
            for c in caption
        )
        for path in (
            "dc:description/rdf:Alt/rdf:li",
            "dc:creator/rdf:Seq/rdf:li",
            "aura:AssetId",
            "aura:Frame",
            "aura:LocationName",
            "aura:Captions/rdf:Seq/rdf:li",
        ):
            assert text(desc, path) == expected, path
        assert len(desc.findall("aura:Captions/rdf:Seq/rdf:li", NS)) == 1

    @given(st.lists(st.text(), max_size=3), st.text())
    def test_any_text_parses(self, captions: list[str], frame: str) -> None:
        """Whatever the captions and frame name, the packet is well-formed XML."""
        asset = Asset(id="i", captions=tuple(captions), uploader_name=frame or None)
        desc = description(sidecar_xmp(asset, frame))
        assert len(desc.findall("aura:Captions/rdf:Seq/rdf:li", NS)) == len(captions)
