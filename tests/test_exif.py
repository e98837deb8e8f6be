"""EXIF insertion: the tags read back with Pillow and the image bytes stay untouched."""

from __future__ import annotations

import io
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from aura_async.emulator.data import Media
from aura_async.metadata.exif import MAX_TEXT_BYTES, add_exif, exif_tags_present

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
ARTIST = 0x013B
DESCRIPTION = 0x010E
DATE_TIME_ORIGINAL = 0x9003
OFFSET_TIME_ORIGINAL = 0x9011
SUBSEC_TIME_ORIGINAL = 0x9291
TAKEN_AT = "2023-10-04T13:10:37.690Z"


def make_jpeg(size: tuple[int, int] = (40, 30), **save: Any) -> bytes:
    """A small JPEG encoded by Pillow (with a JFIF APP0 segment)."""
    image = Image.new("RGB", size)
    image.putdata(
        [((x * 7) % 256, (y * 11) % 256, 128) for y in range(size[1]) for x in range(size[0])]
    )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **save)
    return buffer.getvalue()


def without_app0(jpeg: bytes) -> bytes:
    """The same JPEG with its leading JFIF APP0 segment removed."""
    assert jpeg[2:4] == b"\xff\xe0"
    (length,) = struct.unpack(">H", jpeg[4:6])
    return jpeg[:2] + jpeg[4 + length :]


def pixels(jpeg: bytes) -> bytes:
    """The decoded pixels of a JPEG."""
    with Image.open(io.BytesIO(jpeg)) as image:
        return image.tobytes()


def read_exif(jpeg: bytes) -> tuple[dict[int, Any], dict[int, Any], dict[int, Any]]:
    """IFD0, the Exif IFD and the GPS IFD, as Pillow reads them."""
    with Image.open(io.BytesIO(jpeg)) as image:
        exif = image.getexif()
        return dict(exif), dict(exif.get_ifd(EXIF_IFD)), dict(exif.get_ifd(GPS_IFD))


def utf8(value: Any) -> str:
    """An EXIF ASCII string that holds UTF-8 bytes (Pillow decodes it as Latin-1)."""
    assert isinstance(value, str)
    return value.encode("latin-1").decode("utf-8")


def degrees(dms: tuple[Any, Any, Any], ref: str) -> float:
    """Signed decimal degrees from EXIF rationals and a hemisphere letter."""
    d, m, s = (float(part) for part in dms)
    return (d + m / 60 + s / 3600) * (-1 if ref in ("S", "W") else 1)


def inserted_segment(original: bytes, result: bytes) -> tuple[int, int]:
    """Where the new segment starts and how long it is, checking nothing else moved."""
    assert result[:2] == b"\xff\xd8"
    start = result.index(b"Exif\x00\x00") - 4
    assert start >= 2
    assert result[start : start + 2] == b"\xff\xe1"
    (length,) = struct.unpack(">H", result[start + 2 : start + 4])
    assert result[:start] == original[:start]
    assert result[start + 2 + length :] == original[start:]
    return start, 2 + length


JPEG = make_jpeg()


class TestTags:
    """Each argument becomes the right tag."""

    def test_every_tag(self) -> None:
        """Artist, ImageDescription, the dates and GPS all read back with Pillow."""
        out = add_exif(
            JPEG,
            taken_at=TAKEN_AT,
            artist="Grandma Rose",
            description="First birthday",
            gps=(43.8167, 1.7333),
        )
        ifd0, exif, gps = read_exif(out)
        assert ifd0[ARTIST] == "Grandma Rose"
        assert ifd0[DESCRIPTION] == "First birthday"
        assert exif[DATE_TIME_ORIGINAL] == "2023:10:04 13:10:37"
        assert exif[OFFSET_TIME_ORIGINAL] == "+00:00"
        assert exif[SUBSEC_TIME_ORIGINAL] == "690"
        assert exif[0x9000] == b"0232"
        assert gps[0] == b"\x02\x03\x00\x00"
        assert abs(degrees(gps[2], gps[1]) - 43.8167) < 1e-5
        assert abs(degrees(gps[4], gps[3]) - 1.7333) < 1e-5
        assert exif_tags_present(out)

    @pytest.mark.parametrize(
        ("taken_at", "stamp", "offset", "subsec"),
        [
            ("2023-10-04T13:10:37.690Z", "2023:10:04 13:10:37", "+00:00", "690"),
            ("2026-09-03T12:29:16Z", "2026:09:03 12:29:16", "+00:00", None),
            ("2023-10-04T13:10:37.5+02:00", "2023:10:04 13:10:37", "+02:00", "5"),
            ("2023-10-04T13:10:37-0530", "2023:10:04 13:10:37", "-05:30", None),
            ("2018-10-27 21:45:38", "2018:10:27 21:45:38", None, None),
            ("2024-02-29T23:59:59.999Z", "2024:02:29 23:59:59", "+00:00", "999"),
        ],
    )
    def test_dates(self, taken_at: str, stamp: str, offset: str | None, subsec: str | None) -> None:
        """DateTimeOriginal is the value's wall time; the offset is written only when known."""
        _, exif, _ = read_exif(
            add_exif(JPEG, taken_at=taken_at, artist=None, description=None, gps=None)
        )
        assert exif[DATE_TIME_ORIGINAL] == stamp
        assert exif.get(OFFSET_TIME_ORIGINAL) == offset
        assert exif.get(SUBSEC_TIME_ORIGINAL) == subsec

    @pytest.mark.parametrize(
        "taken_at",
        [
            "",
            "yesterday",
            "2023-13-01T00:00:00Z",
            "2023-02-30T00:00:00Z",
            "2023-10-04",
            "2023-10-04T25:00:00Z",
        ],
    )
    def test_unusable_dates_write_no_exif_ifd(self, taken_at: str) -> None:
        """A value that is not a valid date and time adds no Exif IFD (and alone, nothing)."""
        assert add_exif(JPEG, taken_at=taken_at, artist=None, description=None, gps=None) is JPEG
        out = add_exif(JPEG, taken_at=taken_at, artist="A", description=None, gps=None)
        ifd0, exif, _ = read_exif(out)
        assert EXIF_IFD not in ifd0
        assert exif == {}

    @pytest.mark.parametrize(
        ("gps", "lat_ref", "lon_ref"),
        [
            ((43.8167, 1.7333), "N", "E"),
            ((-33.8688, 151.2093), "S", "E"),
            ((39.0968, -120.0324), "N", "W"),
            ((-54.8019, -68.3030), "S", "W"),
            ((0.0, 0.0), "N", "E"),
            ((90.0, 180.0), "N", "E"),
            ((-90.0, -180.0), "S", "W"),
            ((12.999999999, -0.000001), "N", "W"),
        ],
    )
    def test_gps(self, gps: tuple[float, float], lat_ref: str, lon_ref: str) -> None:
        """Latitude is location[0], longitude location[1]; hemispheres and values to 1e-5°."""
        _, _, tags = read_exif(
            add_exif(JPEG, taken_at=None, artist=None, description=None, gps=gps)
        )
        assert (tags[1], tags[3]) == (lat_ref, lon_ref)
        assert abs(degrees(tags[2], tags[1]) - gps[0]) < 1e-5
        assert abs(degrees(tags[4], tags[3]) - gps[1]) < 1e-5
        for dms in (tags[2], tags[4]):
            assert float(dms[1]) < 60
            assert float(dms[2]) < 60

    @pytest.mark.parametrize(
        "gps", [(float("nan"), 0.0), (0.0, float("inf")), (90.5, 0.0), (0.0, -181.0)]
    )
    def test_impossible_gps_is_left_out(self, gps: tuple[float, float]) -> None:
        """A location that is not finite or out of range writes no GPS IFD."""
        assert add_exif(JPEG, taken_at=None, artist=None, description=None, gps=gps) is JPEG
        ifd0, _, tags = read_exif(
            add_exif(JPEG, taken_at=TAKEN_AT, artist=None, description=None, gps=gps)
        )
        assert GPS_IFD not in ifd0
        assert tags == {}

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("Grand-mère 🎂", "Grand-mère 🎂"),
            ("<b>&amp; 'quoted' \"x\"", "<b>&amp; 'quoted' \"x\""),
            ("line\nbreak", "line\nbreak"),
            ("nul\x00inside", "nulinside"),
            ("lone \ud800 surrogate", "lone ? surrogate"),
        ],
    )
    def test_text_is_utf8(self, text: str, expected: str) -> None:
        """Artist and ImageDescription carry UTF-8 bytes; NULs are dropped."""
        ifd0, _, _ = read_exif(
            add_exif(JPEG, taken_at=None, artist=text, description=text, gps=None)
        )
        assert utf8(ifd0[ARTIST]) == expected
        assert utf8(ifd0[DESCRIPTION]) == expected

    def test_long_text_is_cut_on_a_character(self) -> None:
        """Captions longer than MAX_TEXT_BYTES are cut without splitting a character."""
        caption = "é" * MAX_TEXT_BYTES
        out = add_exif(JPEG, taken_at=TAKEN_AT, artist=caption, description=caption, gps=(1.0, 2.0))
        ifd0, _, _ = read_exif(out)
        described = utf8(ifd0[DESCRIPTION])
        assert described == "é" * (MAX_TEXT_BYTES // 2)
        assert utf8(ifd0[ARTIST]) == described
        inserted_segment(JPEG, out)
        assert pixels(out) == pixels(JPEG)

    def test_empty_values_add_nothing(self) -> None:
        """With no usable value the very same bytes object comes back."""
        assert add_exif(JPEG, taken_at=None, artist=None, description=None, gps=None) is JPEG
        assert add_exif(JPEG, taken_at=None, artist="", description="", gps=None) is JPEG


class TestImageUntouched:
    """Only a segment is inserted; the image data is never re-encoded."""

    @pytest.mark.parametrize(
        "jpeg",
        [
            make_jpeg(),
            make_jpeg((17, 9), quality=30),
            make_jpeg((64, 48), progressive=True),
            make_jpeg((8, 8), subsampling=0),
            without_app0(make_jpeg()),
        ],
        ids=["baseline", "odd-size", "progressive", "444", "no-app0"],
    )
    def test_bytes_and_pixels(self, jpeg: bytes) -> None:
        """Every original byte is kept in order and the decoded pixels are identical."""
        out = add_exif(jpeg, taken_at=TAKEN_AT, artist="Dad", description="x", gps=(-1.5, -2.5))
        inserted_segment(jpeg, out)
        assert pixels(out) == pixels(jpeg)

    def test_after_jfif(self) -> None:
        """The segment follows the JFIF APP0, which stays first."""
        out = add_exif(JPEG, taken_at=TAKEN_AT, artist=None, description=None, gps=None)
        start, _ = inserted_segment(JPEG, out)
        (app0,) = struct.unpack(">H", JPEG[4:6])
        assert out[2:4] == b"\xff\xe0"
        assert start == 4 + app0

    def test_right_after_soi(self) -> None:
        """Without APP0 the segment comes right after SOI."""
        bare = without_app0(JPEG)
        start, _ = inserted_segment(
            bare, add_exif(bare, taken_at=TAKEN_AT, artist=None, description=None, gps=None)
        )
        assert start == 2

    @pytest.mark.parametrize(
        ("data", "start"),
        [
            (b"\xff\xd8\xff\xd9", 2),
            (b"\xff\xd8\xff\xe0\x00\x04ab\xff\xd9", 8),
            (b"\xff\xd8\xff\xe0\x00\x04ab\xff\xe0\x00\x02", 12),
            (b"\xff\xd8\xff\xe0\x00\x40truncated", 2),
        ],
        ids=["soi-eoi", "app0-eoi", "app0-app0", "truncated-app0"],
    )
    def test_minimal_structures(self, data: bytes, start: int) -> None:
        """The segment goes after every complete leading APP0, whatever follows."""
        out = add_exif(data, taken_at=TAKEN_AT, artist=None, description=None, gps=None)
        assert inserted_segment(data, out)[0] == start

    @pytest.mark.parametrize("size", [2048, 70_000, 300_000])
    def test_emulator_jpegs(self, size: int) -> None:
        """The emulator's photos, padded with big COM segments, gain EXIF and decode the same."""
        photo = Media("0:abc.jpeg", size, "image/jpeg").read()
        assert not exif_tags_present(photo)
        out = add_exif(
            photo,
            taken_at=TAKEN_AT,
            artist="Aunt Mia",
            description="Caption 3",
            gps=(39.0968, -120.0324),
        )
        _, length = inserted_segment(photo, out)
        assert len(out) == len(photo) + length
        assert pixels(out) == pixels(photo)
        ifd0, exif, _ = read_exif(out)
        assert ifd0[ARTIST] == "Aunt Mia"
        assert exif[DATE_TIME_ORIGINAL] == "2023:10:04 13:10:37"
        assert add_exif(out, taken_at=TAKEN_AT, artist="x", description=None, gps=None) is out

    @settings(max_examples=40, deadline=None)
    @given(
        artist=st.none() | st.text(max_size=50),
        description=st.none() | st.text(max_size=200),
        gps=st.none()
        | st.tuples(
            st.floats(min_value=-90, max_value=90), st.floats(min_value=-180, max_value=180)
        ),
    )
    def test_any_values(
        self, artist: str | None, description: str | None, gps: tuple[float, float] | None
    ) -> None:
        """Whatever the values, the result decodes to the same pixels and Pillow reads the tags."""
        out = add_exif(JPEG, taken_at=TAKEN_AT, artist=artist, description=description, gps=gps)
        inserted_segment(JPEG, out)
        assert pixels(out) == pixels(JPEG)
        ifd0, _, tags = read_exif(out)
        if artist:
            assert (
                utf8(ifd0[ARTIST]) == artist.replace("\x00", "").encode("utf-8", "replace").decode()
            )
        if gps:
            assert abs(degrees(tags[2], tags[1]) - gps[0]) < 1e-5
            assert abs(degrees(tags[4], tags[3]) - gps[1]) < 1e-5


class TestLeftAlone:
    """Inputs that must come back unchanged."""

    def test_existing_exif_is_kept(self) -> None:
        """A JPEG that already has Exif is returned as is, whatever we would add."""
        exif = Image.Exif()
        exif[ARTIST] = "Camera"
        camera = make_jpeg(exif=exif.tobytes())
        assert exif_tags_present(camera)
        assert (
            add_exif(camera, taken_at=TAKEN_AT, artist="Dad", description="x", gps=(1.0, 1.0))
            is camera
        )

    @pytest.mark.parametrize(
        "data",
        [
            b"",
            b"\xff",
            b"hello world",
            b"\x89PNG\r\n\x1a\n" + b"\x00" * 32,
            b"\x00\x00\x00\x18ftypheic",
        ],
        ids=["empty", "one-byte", "text", "png", "heic"],
    )
    def test_not_a_jpeg(self, data: bytes) -> None:
        """Anything without SOI is returned unchanged and reports no EXIF."""
        assert (
            add_exif(data, taken_at=TAKEN_AT, artist="a", description="b", gps=(1.0, 2.0)) is data
        )
        assert not exif_tags_present(data)


class TestPresent:
    """exif_tags_present reads only the segment headers."""

    @pytest.mark.parametrize(
        ("data", "expected"),
        [
            (JPEG, False),
            (without_app0(JPEG), False),
            (b"\xff\xd8", False),
            (b"\xff\xd8\xff\xd9", False),
            (b"\xff\xd8\xff\xe1\x00\x08Exif\x00\x00", True),
            (b"\xff\xd8\xff\xff\xe1\x00\x08Exif\x00\x00", True),
            (b"\xff\xd8\xff\xe1\x00\x08XMP\x00\x00\x00", False),
            (b"\xff\xd8\xff\xe1\x00\x40Exif\x00\x00", False),
            (b"\xff\xd8\xff\xe1\x00\x01Exif\x00\x00", False),
            (b"\xff\xd8\xff\xda\x00\x08Exif\x00\x00", False),
            (b"\xff\xd8\xff\xfe\x00\x04ab\xff\xe1\x00\x08Exif\x00\x00", True),
        ],
        ids=[
            "pillow",
            "no-app0",
            "soi-only",
            "empty-image",
            "exif",
            "fill-byte",
            "other-app1",
            "truncated",
            "bad-length",
            "after-sos",
            "after-com",
        ],
    )
    def test_table(self, data: bytes, expected: bool) -> None:
        """Exif APP1 before SOS counts; other APP1s, truncated or late segments do not."""
        assert exif_tags_present(data) is expected
