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

from aura_async.emulator import (
    FOREIGN_FRAME_ID,
    Emulator,
    EmulatorConfig,
    EscalatingBan,
    Faults,
    FixedWindow,
    FrameSpec,
    LongWait,
    Policy,
    SlidingWindow,
    TokenBucket,
)

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


class TestThrottlePolicies:
    """Each policy's gate, asked at times the test chooses (no clock)."""

    @staticmethod
    def answers(policy: Policy, times: list[float]) -> list[float]:
        gate = policy.gate(times[0])
        return [round(gate.admit(t), 3) for t in times]

    def test_token_bucket(self) -> None:
        """A burst, then one request per 1/rate; the wait is until the next token."""
        assert self.answers(TokenBucket(rate=10.0, burst=2), [0.0, 0.0, 0.0, 0.05, 0.1]) == [
            0.0,
            0.0,
            0.1,
            0.05,
            0.0,
        ]

    def test_fixed_window_from_the_first_request(self) -> None:
        """A quota per window; the wait is until the window ends; then a full quota."""
        policy = FixedWindow(quota=2, window=10.0)
        assert self.answers(policy, [3.0, 4.0, 5.0, 12.9, 13.0, 13.1]) == [
            0.0,
            0.0,
            8.0,
            0.1,
            0.0,
            0.0,
        ]

    def test_aligned_fixed_window(self) -> None:
        """Aligned windows start at multiples of the window on the server's clock."""
        policy = FixedWindow(quota=1, window=10.0, aligned=True)
        assert self.answers(policy, [3.0, 4.0, 10.0]) == [0.0, 6.0, 0.0]

    def test_sliding_window(self) -> None:
        """At most the quota in any window: a slot frees a window after it was used."""
        policy = SlidingWindow(quota=2, window=10.0)
        assert self.answers(policy, [0.0, 4.0, 5.0, 10.0, 10.5, 14.0]) == [
            0.0,
            0.0,
            5.0,
            0.0,
            3.5,
            0.0,
        ]

    def test_escalating_ban(self) -> None:
        """An overrun bans every request; another soon after doubles the ban; a quiet
        period forgives."""
        policy = EscalatingBan(rate=1.0, burst=1, ban=2.0, repeat_within=10.0, forgive_after=60.0)
        gate = policy.gate(0.0)
        assert gate.admit(0.0) == 0.0
        assert gate.admit(0.1) == 2.0  # overrun: banned until 2.1
        assert gate.admit(1.0) == pytest.approx(1.1)  # still banned
        assert gate.admit(2.2) == 0.0
        assert gate.admit(2.3) == 4.0  # again within 10 s: doubled
        assert gate.admit(200.0) == 0.0
        assert gate.admit(200.1) == 2.0  # forgiven after a quiet minute
        assert (gate.stats.bans, gate.stats.banned_seconds) == (3, 8.0)

    def test_long_wait(self) -> None:
        """An hourly-style quota answers with a wait of minutes."""
        assert self.answers(LongWait(quota=1, period=3600.0), [0.0, 60.0]) == [0.0, 3540.0]

    def test_quota_used_per_window(self) -> None:
        """The counters tell how much of each window was used."""
        gate = FixedWindow(quota=3, window=10.0).gate(0.0)
        for t in (0.0, 1.0, 2.0, 3.0, 11.0):
            gate.admit(t)
        assert gate.stats.quota_used == [3, 1]
        assert (gate.stats.admitted, gate.stats.refused) == (4, 1)

    @pytest.mark.parametrize(
        ("mode", "check"),
        [
            ("seconds", lambda h: h == "8"),
            ("fractional", lambda h: h == "7.500"),
            ("none", lambda h: h is None),
            ("date", lambda h: h is not None and h.endswith("GMT")),
        ],
    )
    async def test_retry_after_of_a_window(self, mode: str, check: Any) -> None:
        """A closed window says when it opens: whole seconds rounded up, exact, a date, or
        nothing; the counters see the quota used."""
        fake = {"now": 100.0}
        config = small_config()
        config.throttle.policy = FixedWindow(quota=1, window=10.0)
        config.throttle.retry_after = mode  # type: ignore[assignment]
        emu = Emulator(config, clock=lambda: fake["now"])
        async with emu, aiohttp.ClientSession() as s:
            name = next(iter(emu.library.images))
            statuses, headers = [], []
            for now in (100.0, 102.5):
                fake["now"] = now
                async with s.get(f"{emu.image_url}/u/{name}") as response:
                    statuses.append(response.status)
                    headers.append(response.headers.get("Retry-After"))
        assert statuses == [200, 429]
        assert check(headers[1])
        assert emu.counters.quota_used == [1]
        assert emu.counters.throttled == 1

    def test_emulator_cli_builds_every_policy(self) -> None:
        """python -m aura_async.emulator --throttle ... builds the same policies as the API."""
        from aura_async.emulator.__main__ import _parser, policy_from_args

        def policy(*flags: str) -> object:
            return policy_from_args(_parser().parse_args(list(flags)))

        assert policy() is None
        assert policy("--throttle-rate", "5") == TokenBucket(5.0, 5)
        assert policy("--throttle", "fixed", "--quota", "50", "--window", "30") == FixedWindow(
            50, 30.0
        )
        assert policy("--throttle", "sliding", "--quota", "50") == SlidingWindow(50, 10.0)
        assert policy("--throttle", "ban", "--throttle-rate", "20", "--ban", "5") == (
            EscalatingBan(20.0, 5, ban=5.0)
        )
        assert policy("--throttle", "long", "--quota", "500") == LongWait(500, 3600.0)
