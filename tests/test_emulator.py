"""The emulator follows the API reference: routes, auth, paging, media, knobs, counters."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from aura_async.emulator import FOREIGN_FRAME_ID, Emulator, EmulatorConfig, Faults, FrameSpec

from .conftest import first_frame_id, small_config


async def login(session: aiohttp.ClientSession, emu: Emulator) -> dict[str, str]:
    body = {"user": {"email": emu.config.email, "password": emu.config.password}}
    async with session.post(f"{emu.api_url}/login.json", json=body) as response:
        assert response.status == 200
        user = (await response.json())["result"]["current_user"]
    return {"X-User-Id": user["id"], "X-Token-Auth": user["auth_token"]}


async def get_json(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], **params: str
) -> tuple[int, Any]:
    async with session.get(url, headers=headers, params=params) as response:
        return response.status, await response.json(content_type=None)


class TestApi:
    async def test_bad_login_is_475(self, emulator: Emulator) -> None:
        """Wrong credentials get 475 with Aura's message."""
        async with aiohttp.ClientSession() as s:
            body = {"user": {"email": emulator.config.email, "password": "wrong"}}
            async with s.post(f"{emulator.api_url}/login.json", json=body) as response:
                assert response.status == 475
                assert (await response.json())["message"] == "The email or password was incorrect."

    async def test_reads_need_a_token(self, emulator: Emulator) -> None:
        """Every /v5 read without a valid token is 401 Request Unauthenticated."""
        async with aiohttp.ClientSession() as s:
            status, body = await get_json(
                s, f"{emulator.api_url}/frames.json", {"X-User-Id": "x", "X-Token-Auth": "y"}
            )
        assert status == 401
        assert body == {"error": True, "message": "Request Unauthenticated", "logout": True}

    async def test_frames_and_404(self, emulator: Emulator) -> None:
        """frames.json lists the frames; unknown and foreign ids are 404 Not found."""
        async with aiohttp.ClientSession() as s:
            auth = await login(s, emulator)
            status, body = await get_json(s, f"{emulator.api_url}/frames.json", auth)
            assert status == 200
            assert [f["id"] for f in body["frames"]] == list(emulator.library.frames)
            for bad in ("nope", FOREIGN_FRAME_ID):
                status, body = await get_json(s, f"{emulator.api_url}/frames/{bad}.json", auth)
                assert (status, body) == (404, {"error": True, "message": "Not found"})
                status, _ = await get_json(s, f"{emulator.api_url}/frames/{bad}/assets.json", auth)
                assert status == 404

    async def test_paging_and_hidden(self, emulator: Emulator) -> None:
        """limit + cursor walk the listing; no limit gives all; filter=all adds hidden ones."""
        frame_id = first_frame_id(emulator)
        url = f"{emulator.api_url}/frames/{frame_id}/assets.json"
        async with aiohttp.ClientSession() as s:
            auth = await login(s, emulator)
            _, everything = await get_json(s, url, auth)
            _, with_hidden = await get_json(s, url, auth, filter="all")
            ids: list[str] = []
            cursor = ""
            while True:
                params = {"limit": "7", **({"cursor": cursor} if cursor else {})}
                _, page = await get_json(s, url, auth, **params)
                assert len(page["assets"]) <= 7
                ids += [a["id"] for a in page["assets"]]
                if not page["next_page_cursor"]:
                    break
                cursor = page["next_page_cursor"]
            status, _ = await get_json(s, url, auth, cursor="garbage!")
        assert status == 400
        assert everything["next_page_cursor"] is None
        assert ids == [a["id"] for a in everything["assets"]]
        assert len(with_hidden["assets"]) == len(everything["assets"]) + 1
        hidden = [x for x in with_hidden["asset_settings"] if x["hidden"]]
        assert len(hidden) == 1
        uploads = [a["uploaded_at"] for a in everything["assets"] if a["uploaded_at"]]
        assert uploads == sorted(uploads, reverse=True)  # newest first
        placeholders = [a for a in everything["assets"] if a["file_name"] is None]
        assert len(placeholders) == 2
        assert all(a["taken_at"] is None for a in placeholders)

    async def test_media_bytes_and_types(self, emulator: Emulator) -> None:
        """Stills are decodable JPEGs even for .heic/.png names; clips are video/mp4."""
        frame = emulator.library.frames[first_frame_id(emulator)]
        still = next(a for a in frame.assets if a["file_name"] and a["file_name"].endswith(".png"))
        clip = next(a for a in frame.assets if a["video_url"])
        async with aiohttp.ClientSession() as s:
            auth = await login(s, emulator)
            _, listing = await get_json(
                s, f"{emulator.api_url}/frames/{frame.id}/assets.json", auth
            )
            signed = next(a["video_url"] for a in listing["assets"] if a["id"] == clip["id"])
            url = f"{emulator.image_url}/{still['user_id']}/{still['file_name']}"
            async with s.get(url) as response:
                assert response.status == 200
                assert response.content_type == "image/jpeg"
                data = await response.read()
            async with s.get(signed) as response:
                assert response.content_type == "video/mp4"
                video = await response.read()
            async with s.get(f"{emulator.image_url}/u/missing.jpg") as response:
                assert response.status == 404
            resized = f"{emulator.image_url}/u/width_600__height_450__{still['file_name']}"
            async with s.get(resized) as response:
                assert response.status == 200
        assert data == emulator.library.expected_bytes(still)
        assert len(data) == emulator.config.photo_size
        assert video == emulator.library.expected_bytes(clip, clip=True)
        image = Image.open(io.BytesIO(data))
        image.load()
        assert image.format == "JPEG"

    async def test_range_requests(self, emulator: Emulator) -> None:
        """Range requests get 206 with the right slice; bad ranges get 416."""
        name, media = next(iter(emulator.library.images.items()))
        url = f"{emulator.image_url}/u/{name}"
        async with aiohttp.ClientSession() as s:
            async with s.get(url, headers={"Range": "bytes=100-"}) as response:
                assert response.status == 206
                assert (
                    response.headers["Content-Range"] == f"bytes 100-{media.size - 1}/{media.size}"
                )
                assert await response.read() == media.read(100)
            async with s.get(url, headers={"Range": f"bytes={media.size}-"}) as response:
                assert response.status == 416


class TestVideoUrls:
    @pytest.fixture
    def emulator_config(self) -> EmulatorConfig:
        return small_config(video_url_ttl=-1)

    async def test_expired_signature_is_403(self, emulator: Emulator) -> None:
        """A signed URL past its expiry is refused like CloudFront does (403)."""
        name = next(iter(emulator.library.videos))
        async with aiohttp.ClientSession() as s:
            async with s.get(emulator.sign(name, expires=time.time() - 5)) as response:
                assert response.status == 403
            async with s.get(emulator.sign(name, expires=time.time() + 60)) as response:
                assert response.status == 200
            bad = emulator.sign(name).replace("Signature=", "Signature=0")
            async with s.get(bad) as response:
                assert response.status == 403


class TestKnobs:
    async def test_throttle_counts(self) -> None:
        """The server bucket answers 429 with Retry-After once the burst is spent."""
        config = small_config()
        config.throttle.rate, config.throttle.burst = 1.0, 2
        async with Emulator(config) as emu, aiohttp.ClientSession() as s:
            name = next(iter(emu.library.images))
            statuses, retry_after = [], []
            for _ in range(4):
                async with s.get(f"{emu.image_url}/u/{name}") as response:
                    statuses.append(response.status)
                    retry_after.append(response.headers.get("Retry-After"))
        assert statuses == [200, 200, 429, 429]
        assert retry_after[2] == "1"
        assert emu.counters.throttled == 2
        assert emu.counters.count("image", 200) == 2

    @pytest.mark.parametrize("mode", ["date", "none"])
    async def test_retry_after_modes(self, mode: str) -> None:
        """Retry-After can be an HTTP date or absent."""
        config = small_config()
        config.throttle.rate, config.throttle.burst = 1.0, 1
        config.throttle.retry_after = mode  # type: ignore[assignment]
        async with Emulator(config) as emu, aiohttp.ClientSession() as s:
            name = next(iter(emu.library.images))
            for _ in range(2):
                async with s.get(f"{emu.image_url}/u/{name}") as response:
                    header = response.headers.get("Retry-After")
        assert (header is None) == (mode == "none")
        if mode == "date":
            assert header is not None
            assert header.endswith("GMT")

    async def test_tokens_die_and_lockout(self) -> None:
        """Tokens can die after K requests; lockout answers 475 to good credentials."""
        config = small_config(token_requests=1)
        async with Emulator(config) as emu, aiohttp.ClientSession() as s:
            auth = await login(s, emu)
            assert (await get_json(s, f"{emu.api_url}/frames.json", auth))[0] == 200
            assert (await get_json(s, f"{emu.api_url}/frames.json", auth))[0] == 401
            emu.config.lockout = True
            body = {"user": {"email": emu.config.email, "password": emu.config.password}}
            async with s.post(f"{emu.api_url}/login.json", json=body) as response:
                assert response.status == 475

    async def test_faults_are_seeded(self) -> None:
        """Fault draws come from a seeded generator: the same seed, the same faults."""
        outcomes = []
        for _ in range(2):
            config = small_config(faults=Faults(seed=3, http_500=0.5))
            async with Emulator(config) as emu, aiohttp.ClientSession() as s:
                name = next(iter(emu.library.images))
                statuses = []
                for _ in range(10):
                    async with s.get(f"{emu.image_url}/u/{name}") as response:
                        statuses.append(response.status)
                outcomes.append(statuses)
        assert outcomes[0] == outcomes[1]
        assert 500 in outcomes[0]
        assert 200 in outcomes[0]

    async def test_truncated_and_reset_bodies(self) -> None:
        """Truncation and reset faults end the body early; the client notices."""
        for fault in ("truncate", "reset"):
            config = small_config(faults=Faults(**{fault: 1.0}))  # type: ignore[arg-type]
            async with Emulator(config) as emu, aiohttp.ClientSession() as s:
                name = next(iter(emu.library.images))
                with pytest.raises(aiohttp.ClientError):
                    async with s.get(f"{emu.image_url}/u/{name}") as response:
                        await response.read()
                assert emu.counters.faults[fault] == 1

    async def test_config_text(self, emulator: Emulator) -> None:
        """The printed config points at the emulator, one section per frame."""
        text = emulator.config_text("/tmp/x")
        assert f"api_url = {emulator.api_url}" in text
        assert f"frame_id = {first_frame_id(emulator)}" in text
        assert "[myframe]" in text


def test_frames_are_deterministic() -> None:
    """The same seed gives the same frame ids, assets and bytes."""
    a = Emulator(EmulatorConfig(frames=[FrameSpec(photos=5)], seed=9, photo_size=4096))
    b = Emulator(EmulatorConfig(frames=[FrameSpec(photos=5)], seed=9, photo_size=4096))
    assert list(a.library.frames) == list(b.library.frames)
    fa = next(iter(a.library.frames.values())).assets
    fb = next(iter(b.library.frames.values())).assets
    assert fa == fb
    still = next(x for x in fa if x["file_name"])
    assert a.library.expected_bytes(still) == b.library.expected_bytes(still)


def test_every_command_line_option_says_what_it_does() -> None:
    """python -m aura_async.emulator --help describes every option, in plain English."""
    from aura_async.emulator.__main__ import _parser

    parser = _parser()
    bare = [a.option_strings[0] for a in parser._actions if not a.help]
    assert bare == []
    text = parser.format_help()
    assert re.search(r"\ba [aeiouh]", text) is None  # "a expire", "a html"


def test_emulator_config_roundtrip(tmp_path: Path) -> None:
    """The emulator's CLI builds the same knobs as its Python API."""
    from aura_async.emulator.__main__ import _parser, config_from_args

    args = _parser().parse_args(
        [
            "--photos",
            "3",
            "--fault-reset",
            "0.1",
            "--throttle-rate",
            "5",
            "--retry-after",
            "date",
            "--no-range",
        ]
    )
    config: EmulatorConfig = config_from_args(args)
    assert config.frames[0].photos == 3
    assert config.faults.reset == 0.1
    assert config.throttle.rate == 5
    assert config.throttle.retry_after == "date"
    assert config.range_support is False
