"""The emulated Aura server: an ``aiohttp.web`` application on loopback.

Routes follow ``reference/aura-api.md``: login, the authenticated ``/v5`` reads, the
unauthenticated image route and signed video URLs. Knobs (:mod:`.knobs`: :class:`Throttle`,
:class:`Faults`, latencies, token lifetime, lockout) switch on the behaviours that the
reference marks [GUESS]; :class:`Counters` (:mod:`.counters`) records what was served so
tests and benchmarks can assert on it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import random
import secrets
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

from aiohttp import web

from .counters import Counters
from .data import FOREIGN_FRAME_ID, Library, Media
from .knobs import EmulatorConfig
from .policies import Gate
from .wire import decode_cursor, encode_cursor, parse_range

__all__ = ["Emulator"]

_NOT_FOUND = {"error": True, "message": "Not found"}
_UNAUTHENTICATED = {"error": True, "message": "Request Unauthenticated", "logout": True}
_BAD_LOGIN = {"error": True, "message": "The email or password was incorrect."}
_CHUNK = 64 * 1024


class Emulator:
    """A running (or ready to run) emulated Aura server.

    Use as ``async with Emulator(config) as emu:``; then :attr:`api_url` and
    :attr:`image_url` point at it.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.library = Library(
            self.config.frames,
            seed=self.config.seed,
            photo_size=self.config.photo_size,
            video_size=self.config.video_size,
        )
        self.counters = Counters()
        self.tokens: dict[str, int | None] = {}
        self.base_url = ""
        self._wallclock = wallclock
        self._secret = hashlib.sha256(f"emulator-{self.config.seed}".encode()).digest()
        self._fault_rng = random.Random(self.config.faults.seed)
        self._clock = clock
        self._gate: Gate | None = None  # made at the first media request
        self._runner: web.AppRunner | None = None
        self.app = self._make_app()

    # ----------------------------------------------------------------- lifecycle
    @property
    def api_url(self) -> str:
        """Base of the emulated JSON API (the config's ``api_url``)."""
        return f"{self.base_url}/v5"

    @property
    def image_url(self) -> str:
        """Base of the emulated image server (the config's ``image_url``)."""
        return self.base_url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (port 0 picks a free one); return the base URL."""
        self._runner = web.AppRunner(
            self.app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        self.base_url = f"http://{host}:{bound[1]}"
        return self.base_url

    async def close(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def config_text(self, file_path: str = "./aura-photos") -> str:
        """A ready ``credentials.ini`` for this emulator, one section per frame."""
        lines = [
            "[login]",
            f"email = {self.config.email}",
            f"password = {self.config.password}",
            f"api_url = {self.api_url}",
            f"image_url = {self.image_url}",
        ]
        for index, frame in enumerate(self.library.frames.values()):
            section = "myframe" if index == 0 else f"frame{index + 1}"
            folder = file_path if index == 0 else f"{file_path}-{section}"
            lines += [
                "",
                f"[{section}]",
                f"# {frame.name}",
                f"frame_id = {frame.id}",
                f"file_path = {folder}",
            ]
        return "\n".join(lines) + "\n"

    # ----------------------------------------------------------------- plumbing
    def _make_app(self) -> web.Application:
        app = web.Application()
        app.on_response_prepare.append(self._count)
        app.router.add_post("/v5/login.json", self._login, name="login")
        app.router.add_get("/v5/frames.json", self._frames, name="frames")
        app.router.add_get("/v5/frames/{frame_id}/assets.json", self._assets, name="assets")
        app.router.add_get("/v5/frames/{frame_id}.json", self._frame, name="frame")
        app.router.add_get("/cdn/videos/{name}", self._video, name="video")
        app.router.add_get("/{user_id}/{file_name}", self._image, name="image")
        return app

    async def _count(self, request: web.Request, response: web.StreamResponse) -> None:
        # Counted when the headers go out, before the body: a client that has its whole
        # answer can never see the count change afterwards.
        route = request.match_info.route.name or "other"
        self.counters.requests[(route, response.status)] += 1

    def _roll(self, probability: float) -> bool:
        return probability > 0 and self._fault_rng.random() < probability

    async def _api_delay(self) -> None:
        if self.config.api_latency:
            await asyncio.sleep(self.config.api_latency)

    def _authorised(self, request: web.Request) -> bool:
        token = request.headers.get("X-Token-Auth", "")
        if request.headers.get("X-User-Id") != self.library.user_id or token not in self.tokens:
            return False
        remaining = self.tokens[token]
        if remaining is None:
            return True
        if remaining <= 0:
            return False
        self.tokens[token] = remaining - 1
        return True

    # ----------------------------------------------------------------- API routes
    async def _login(self, request: web.Request) -> web.Response:
        await self._api_delay()
        try:
            body = await request.json()
            user = body["user"]
            ok = user["email"] == self.config.email and user["password"] == self.config.password
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok or self.config.lockout:
            return web.json_response(_BAD_LOGIN, status=475)
        token = secrets.token_urlsafe(24)
        self.tokens[token] = self.config.token_requests
        current_user = {
            "id": self.library.user_id,
            "auth_token": token,
            "email": self.config.email,
            "name": "Demo Family",
            "show_push_prompt": False,
            "features": [],
        }
        return web.json_response({"error": False, "result": {"current_user": current_user}})

    def _frame_json(self, frame_id: str) -> dict[str, Any]:
        frame = self.library.frames[frame_id]
        shown = [a for a in frame.assets if a["file_name"] and a["id"] not in frame.hidden_ids]
        return {
            "id": frame.id,
            "name": frame.name,
            "user_id": self.library.user_id,
            "num_assets": len(shown),
            "slideshow_interval": 600,
            "orientation": 1,
            "software_version": "emulator",
            "live_photos_on": True,
            "contributors": [],
        }

    async def _frames(self, request: web.Request) -> web.Response:
        await self._api_delay()
        if not self._authorised(request):
            return web.json_response(_UNAUTHENTICATED, status=401)
        return web.json_response({"frames": [self._frame_json(i) for i in self.library.frames]})

    async def _frame(self, request: web.Request) -> web.Response:
        await self._api_delay()
        if not self._authorised(request):
            return web.json_response(_UNAUTHENTICATED, status=401)
        frame_id = request.match_info["frame_id"]
        if frame_id not in self.library.frames:
            return web.json_response(_NOT_FOUND, status=404)
        return web.json_response({"frame": self._frame_json(frame_id)})

    async def _assets(self, request: web.Request) -> web.Response:
        await self._api_delay()
        if not self._authorised(request):
            return web.json_response(_UNAUTHENTICATED, status=401)
        frame = self.library.frames.get(request.match_info["frame_id"])
        if frame is None or frame.id == FOREIGN_FRAME_ID:
            return web.json_response(_NOT_FOUND, status=404)
        include_hidden = request.query.get("filter") == "all"
        rows = [a for a in frame.assets if include_hidden or a["id"] not in frame.hidden_ids]
        try:
            offset = decode_cursor(request.query.get("cursor"))
            limit = int(request.query["limit"]) if "limit" in request.query else None
        except ValueError:
            return web.json_response({"error": True, "message": "Bad Request"}, status=400)
        end = len(rows) if limit is None or limit <= 0 else min(len(rows), offset + limit)
        page = [self._public(a) for a in rows[offset:end]]
        payload = {
            "assets": page,
            "asset_settings": [
                {
                    "id": f"s-{a['id']}",
                    "asset_id": a["id"],
                    "frame_id": frame.id,
                    "added_by_id": a["user_id"],
                    "selected": True,
                    "hidden": a["id"] in frame.hidden_ids,
                    "reason": "user",
                }
                for a in page
            ],
            "users": [{"id": u["id"], "name": u["name"]} for u in self.library.users],
            "next_page_cursor": encode_cursor(end) if end < len(rows) else None,
        }
        text = json.dumps(payload)
        if self._roll(self.config.faults.malformed_listing):
            self.counters.faults["malformed_listing"] += 1
            text = text[: len(text) // 2]
        return web.Response(text=text, content_type="application/json")

    def _public(self, asset: dict[str, Any]) -> dict[str, Any]:
        if not asset["video_url"]:
            return asset
        return {**asset, "video_url": self.sign(asset["video_file_name"])}

    def sign(self, name: str, expires: float | None = None) -> str:
        """A signed, expiring URL for a video, in the manner of CloudFront."""
        stamp = int(
            expires if expires is not None else self._wallclock() + self.config.video_url_ttl
        )
        mac = hmac.new(self._secret, f"{name}:{stamp}".encode(), "sha256").hexdigest()[:32]
        return f"{self.base_url}/cdn/videos/{name}?Expires={stamp}&Signature={mac}&Key-Pair-Id=EMU"

    # ----------------------------------------------------------------- media routes
    async def _image(self, request: web.Request) -> web.StreamResponse:
        # Like Pushd's imgproxy, options come before the name, '__'-separated, and the
        # user id is not used to find the source (aura-api.md 4).
        name = request.match_info["file_name"].rsplit("__", 1)[-1]
        media = self.library.images.get(name)
        if media is None:
            return web.Response(status=404, text="Not Found")
        return await self._serve(request, media, name)

    async def _video(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        media = self.library.videos.get(name)
        if media is None:
            return web.Response(status=404, text="Not Found")
        try:
            expires = int(request.query["Expires"])
        except (KeyError, ValueError):
            expires = 0
        expected = hmac.new(self._secret, f"{name}:{expires}".encode(), "sha256").hexdigest()[:32]
        valid = hmac.compare_digest(expected, request.query.get("Signature", ""))
        if not valid or expires < self._wallclock() or self._roll(self.config.faults.expire_video):
            return web.Response(
                status=403,
                content_type="text/xml",
                text="<?xml version='1.0'?><Error><Code>AccessDenied</Code>"
                "<Message>Request has expired</Message></Error>",
            )
        return await self._serve(request, media, name)

    async def _serve(self, request: web.Request, media: Media, name: str) -> web.StreamResponse:
        counters = self.counters
        counters.files[name] += 1
        counters.media_in_flight += 1
        counters.max_media_in_flight = max(counters.max_media_in_flight, counters.media_in_flight)
        try:
            if self.config.media_latency:
                await asyncio.sleep(self.config.media_latency)
            wait = self._admit()
            if wait:
                return self._throttled(wait)
            return await self._send(request, media)
        finally:
            counters.media_in_flight -= 1

    def _admit(self) -> float:
        """0 if the throttle policy serves this request, else the seconds it asks to wait.

        The policy is read at the first media request (so a test may set it after start),
        and its windows start there.
        """
        if self._gate is None:
            policy = self.config.throttle.resolved()
            if policy is None:
                return 0.0
            self._gate = policy.gate(self._clock(), self.counters.policy)
        return self._gate.admit(self._clock())

    def _throttled(self, wait: float) -> web.Response:
        throttle = self.config.throttle
        headers = {}
        if throttle.retry_after == "seconds":
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
        elif throttle.retry_after == "fractional":
            headers["Retry-After"] = f"{math.ceil(wait * 1000) / 1000:.3f}"  # never early
        elif throttle.retry_after == "date":
            # A date has whole seconds: rounded up, so it never names a moment too early.
            moment = math.ceil(self._wallclock() + wait)
            headers["Retry-After"] = formatdate(moment, usegmt=True)
        return web.Response(status=throttle.status, text="Too many requests", headers=headers)

    async def _send(self, request: web.Request, media: Media) -> web.StreamResponse:
        faults = self.config.faults
        if self._roll(faults.http_500):
            self.counters.faults["http_500"] += 1
            return web.Response(
                status=500,
                text="<html><body>Internal Server Error</body></html>",
                content_type="text/html",
            )
        if self._roll(faults.html_error):
            self.counters.faults["html_error"] += 1
            return web.Response(
                text="<html><body>Oops, something went wrong</body></html>",
                content_type="text/html",
            )
        start, end = 0, media.size
        status = 200
        headers = {"Content-Type": media.content_type, "Accept-Ranges": "bytes"}
        if not self.config.range_support:
            headers.pop("Accept-Ranges")
        elif "Range" in request.headers:
            parsed = parse_range(request.headers["Range"], media.size)
            if parsed is None:
                return web.Response(status=416, headers={"Content-Range": f"bytes */{media.size}"})
            start, end = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{media.size}"
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = end - start
        await response.prepare(request)
        reset, truncate = self._roll(faults.reset), self._roll(faults.truncate)
        stall = self._roll(faults.stall)
        cut = start + (end - start) // 2 if (reset or truncate or stall) else end
        for offset in range(start, cut, _CHUNK):
            chunk = media.read(offset, min(cut, offset + _CHUNK))
            await response.write(chunk)
            self.counters.bytes_sent += len(chunk)
        if cut < end:
            transport = request.transport
            if stall:
                self.counters.faults["stall"] += 1
                await asyncio.sleep(faults.stall_seconds)
            if transport is not None:
                self.counters.faults["reset" if reset else "truncate"] += 0 if stall else 1
                (transport.abort if reset else transport.close)()
            return response
        await response.write_eof()
        return response
