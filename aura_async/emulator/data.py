"""The emulator's deterministic library: frames, users, assets and their bytes.

Everything derives from a seed, so a test can rebuild the exact bytes the server sends and
compare them with what landed on disk (:meth:`Library.expected_bytes`).
"""

from __future__ import annotations

import base64
import hashlib
import random
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

__all__ = ["FOREIGN_FRAME_ID", "FrameSpec", "Library", "Media"]

# A 16x16 baseline JPEG; every emulated photo is this image padded with COM segments of
# seeded bytes to the configured size, so each is a valid, distinct, decodable JPEG.
_JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b"
    "0b0c1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e3334"
    "32ffdb0043010909090c0b0c180d0d1832211c213232323232323232323232323232323232323232323232"
    "323232323232323232323232323232323232323232323232323232ffc00011080010001003012200021101"
    "031101ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002"
    "010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c115"
    "52d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a53545556575859"
    "5a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aa"
    "b2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6"
    "f7f8f9faffc4001f0100030101010101010101010000000000000102030405060708090a0bffc400b51100"
    "020102040403040705040400010277000102031104052131061241510761711322328108144291a1b1c109"
    "233352f0156272d10a162434e125f11718191a262728292a35363738393a434445464748494a5354555657"
    "58595a636465666768696a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7"
    "a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5"
    "f6f7f8f9faffda000c03010002110311003f009e8a28af903ea8ffd9"
)
_JFIF_END = 20  # SOI (2) + APP0 JFIF segment (18): COM segments go right after it
_COM_MAX = 65533
_BLOCK = 1 << 20
FOREIGN_FRAME_ID = "0b7d6a52-55d1-4f0e-9a8e-5e0f0e1a7c11"
"""A frame id that exists on the server but belongs to another account (404, as a bad id)."""

_UPLOADERS = ("Grandma Rose", "Dad", "Aunt Mia")
_PLACES = (("Coufouleux, France", 43.8167, 1.7333), ("Lake Tahoe, CA", 39.0968, -120.0324))
_STILL_EXTS = (".jpeg", ".JPG", ".png", ".heic", ".jpg")


@dataclass(frozen=True, slots=True)
class Media:
    """One servable file: its size, type and the seed its bytes come from."""

    key: str
    size: int
    content_type: str

    def read(self, start: int = 0, end: int | None = None) -> bytes:
        """The bytes ``[start, end)`` of this file."""
        stop = self.size if end is None else min(end, self.size)
        if self.content_type == "image/jpeg":
            return _jpeg(self.key, self.size)[start:stop]
        return _video_range(self.key, self.size, start, stop)


class _BytesCache:
    """An LRU of generated photo bodies bounded by their total size, not their number.

    Generating a 200 KB body costs ~0.4 ms of seeded random bytes; a 64-entry cache missed on
    every request of a 1,000-photo frame and made the emulator the bottleneck of every client
    measured against it. Thread-safe: tests read expected bytes while a threaded emulator
    serves.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._items: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str, size: int) -> bytes:
        with self._lock:
            body = self._items.get((key, size))
            if body is not None:
                self._items.move_to_end((key, size))
                return body
        body = _make_jpeg(key, size)
        with self._lock:
            if (key, size) not in self._items:
                self._items[(key, size)] = body
                self._bytes += len(body)
            while self._bytes > self.budget and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self._bytes -= len(old)
        return body


_JPEG_CACHE = _BytesCache(256 * 1024 * 1024)


def _jpeg(key: str, size: int) -> bytes:
    return _JPEG_CACHE.get(key, size)


def _make_jpeg(key: str, size: int) -> bytes:
    filler = size - len(_JPEG)
    parts = [_JPEG[:_JFIF_END]]
    rng = random.Random(key)
    while filler > 4:
        payload = min(_COM_MAX - 2, filler - 4)
        parts.append(b"\xff\xfe" + (payload + 2).to_bytes(2, "big") + rng.randbytes(payload))
        filler -= payload + 4
    parts.append(_JPEG[_JFIF_END:])
    body = b"".join(parts)
    # Sizes that leave 1-4 spare bytes cannot hold a COM segment: pad after EOI instead,
    # which decoders ignore.
    return body + b"\x00" * (size - len(body)) if len(body) < size else body


@lru_cache(maxsize=8)
def _video_block(key: str) -> bytes:
    return random.Random(key).randbytes(_BLOCK)


def _video_range(key: str, size: int, start: int, stop: int) -> bytes:
    # An MP4 'ftyp' box, then an 'mdat' box to the end of the file (its boxes tile the file,
    # as a real MP4's do), filled with 1 MiB blocks that differ by their leading index:
    # cheap to serve at any size (a 1 GB video costs 1 MiB of memory), fully deterministic.
    header = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    rest = size - len(header)
    if rest >= 16 and rest >= 1 << 32:
        header += b"\x00\x00\x00\x01mdat" + rest.to_bytes(8, "big")
    elif rest >= 8:
        header += rest.to_bytes(4, "big") + b"mdat"
    out = bytearray()
    pos = start
    block = _video_block(key)
    while pos < stop:
        if pos < len(header):
            piece = header[pos : min(stop, len(header))]
        else:
            index, offset = divmod(pos, _BLOCK)
            chunk = index.to_bytes(8, "big") + block[8:] if offset < 8 else block
            piece = chunk[offset : offset + (stop - pos)]
        out += piece
        pos += len(piece)
    return bytes(out)


@dataclass(frozen=True)
class FrameSpec:
    """The shape of one emulated frame."""

    name: str = "Family Frame"
    photos: int = 300
    videos: int = 5
    live_photos: int = 5
    placeholders: int = 3
    hidden: int = 2
    frame_id: str | None = None


@dataclass
class EmuFrame:
    """A frame as the server holds it."""

    id: str
    name: str
    assets: list[dict[str, Any]] = field(default_factory=list)
    hidden_ids: set[str] = field(default_factory=set)


class Library:
    """All frames, assets and media of one account, generated from a seed."""

    def __init__(
        self,
        specs: list[FrameSpec],
        *,
        seed: int = 0,
        photo_size: int = 64 * 1024,
        video_size: int = 512 * 1024,
        base_time: datetime = datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
    ) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.photo_size = photo_size
        self.video_size = video_size
        self.user_id = self._uuid1()
        self.users = [
            {
                "id": self.user_id if i == 0 else self._uuid1(),
                "name": name,
                "email": f"user{i}@example.com",
            }
            for i, name in enumerate(_UPLOADERS)
        ]
        self.images: dict[str, Media] = {}
        self.videos: dict[str, Media] = {}
        self.frames: dict[str, EmuFrame] = {}
        self.base_time = base_time
        self._clock = 0
        for spec in specs:
            self.add_frame(spec)

    def _uuid1(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=1))

    def add_frame(self, spec: FrameSpec) -> EmuFrame:
        """Create a frame with the assets ``spec`` asks for, newest first."""
        frame_id = spec.frame_id or str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        frame = EmuFrame(id=frame_id, name=spec.name)
        self.frames[frame_id] = frame
        kinds = (
            ["photo"] * spec.photos
            + ["video"] * spec.videos
            + ["live"] * spec.live_photos
            + ["placeholder"] * spec.placeholders
        )
        self.rng.shuffle(kinds)
        for kind in kinds:
            self.add_asset(frame, kind)
        visible = [a["id"] for a in frame.assets if a["file_name"] and not a["video_url"]]
        frame.hidden_ids.update(visible[: spec.hidden])
        return frame

    def add_asset(self, frame: EmuFrame, kind: str, *, md5_of: str | None = None) -> dict[str, Any]:
        """Add one asset of ``kind`` (photo, video, live, placeholder) as the newest upload.

        ``md5_of`` gives the new asset the ``md5_hash`` of an existing asset: the same
        photo uploaded again by another relative.
        """
        self._clock += 1
        uploaded = self.base_time + timedelta(minutes=self._clock)
        taken = uploaded - timedelta(
            days=self.rng.randrange(0, 11 * 365),
            seconds=self.rng.randrange(86400),
            milliseconds=self.rng.randrange(1000),
        )
        uploader = self.users[self.rng.randrange(len(self.users))]
        asset_id = self._uuid1()
        upper = self.rng.random() < 0.3
        stem = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        ext = (
            ".jpg"
            if kind in ("video", "live")
            else _STILL_EXTS[self.rng.randrange(len(_STILL_EXTS))]
        )
        file_name = (stem.upper() if upper else stem) + ext
        place = _PLACES[self.rng.randrange(len(_PLACES))] if self.rng.random() < 0.5 else None
        raw: dict[str, Any] = {
            "id": asset_id,
            "user_id": uploader["id"],
            "user": {"id": uploader["id"], "name": uploader["name"], "show_push_prompt": False},
            "file_name": file_name,
            "original_file_name": f"IMG_{self.rng.randrange(10000):04d}{ext}",
            "taken_at": _ts(taken),
            "uploaded_at": _ts(uploaded),
            "taken_at_granularity": None,
            "data_uti": "public.heic"
            if ext == ".heic"
            else "public.png"
            if ext == ".png"
            else "public.jpeg",
            "md5_hash": None,
            "width": 1600,
            "height": 1200,
            "exif_orientation": 1,
            "rotation_cw": 0,
            "selected": True,
            "is_live": False,
            "live_photo_off": False,
            "video_file_name": None,
            "video_url": None,
            "duration": None,
            "glaciered_at": "4001-01-01T00:00:00.000Z",
            "location": [place[1], place[2]] if place else None,
            "location_name": place[0] if place else None,
            "good_resolution": True,
            "thumbnail_url": None,
            "attachments": (
                [
                    {
                        "id": self._uuid1(),
                        "asset_id": asset_id,
                        "frame_id": frame.id,
                        "user_id": uploader["id"],
                        "type": "caption",
                        "data": f"Caption {self._clock} from {uploader['name']}",
                    }
                ]
                if self.rng.random() < 0.2
                else []
            ),
            "is_b2": None,
            "some_future_field": {"nested": [1, 2, 3]},
        }
        self.images[file_name] = Media(f"{self.seed}:{file_name}", self.photo_size, "image/jpeg")
        if md5_of is not None:  # the same photo again: the image server renders the same bytes
            first = next(a for a in frame.assets if a["id"] == md5_of)
            self.images[file_name] = self.images[first["file_name"]]
        original = hashlib.md5(f"original:{md5_of or asset_id}".encode(), usedforsecurity=False)
        raw["md5_hash"] = base64.b64encode(original.digest()).decode()
        if kind in ("video", "live"):
            video_name = f"{stem}.{'mov' if kind == 'live' or self.rng.random() < 0.3 else 'mp4'}"
            raw.update(video_file_name=video_name, video_url=f"cdn:{video_name}")
            self.videos[video_name] = Media(
                f"{self.seed}:{video_name}", self.video_size, "video/mp4"
            )
            if kind == "live":
                raw["is_live"] = True
            else:
                raw.update(
                    duration=round(self.rng.uniform(2, 60), 3),
                    md5_hash=None,
                    data_uti="public.movie",
                )
        if kind == "placeholder":
            del self.images[file_name]
            raw.update(
                file_name=None,
                taken_at=None,
                uploaded_at=None,
                data_uti=None,
                width=None,
                height=None,
                md5_hash=None,
                upload_priority=None,
                location=None,
            )
            raw.pop("good_resolution")
        frame.assets.insert(0, raw)
        return raw

    def expected_bytes(self, asset: dict[str, Any], clip: bool = False) -> bytes:
        """The exact bytes the server sends for an asset's still (or its clip)."""
        if clip:
            return self.videos[asset["video_file_name"]].read()
        return self.images[asset["file_name"]].read()


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
