"""The Aura API client: login, frames, paged asset listings.

This module is the translation point for network errors: :func:`translate_errors` turns
every aiohttp, timeout and JSON error into an :class:`~aura_async.exceptions.AuraError`
(the downloader uses it too), and :func:`error_for_status` maps HTTP statuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

from aura_async.api.http import _headers, error_for_status, redact, translate_errors
from aura_async.api.parse import parse_asset_page, parse_frame, parse_frames, parse_login
from aura_async.exceptions import AuthError
from aura_async.models import Asset, AssetPage, Frame
from aura_async.pacing import retry
from aura_async.pacing.retry import RetryPolicy
from aura_async.report import EventHandler, LoggedIn, PageListed

__all__ = ["READ_AHEAD", "AuraClient"]

READ_AHEAD = 8
"""Pages of a listing read ahead of the caller at most: enough to go on while a run opens
its folder's state and scans the folder (a third of a second at 100,000 files); they
cost about half a megabyte each when the run falls behind (4 to 6 MB of the peak of a
run over 100,000 photos)."""


class AuraClient:
    """An authenticated conversation with the Aura API.

    Args:
        session: the aiohttp session to use (owned by the caller).
        api_url: base of the API, such as ``https://api.pushd.com/v5``.
        email: account e-mail.
        password: account password.
        policy: retry policy for reads.
        sleep: injected sleep for retry waits.
        wallclock: Unix time, for Retry-After dates.
        on_event: told of each login and listing page (``--debug`` shows them).

    A 401 on a read triggers exactly one re-login shared by every concurrent caller; a
    second 401 raises :class:`AuthError`. Login itself is never retried.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_url: str,
        email: str,
        password: str,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        wallclock: Callable[[], float] = time.time,
        on_event: EventHandler | None = None,
    ) -> None:
        self.session = session
        self._emit: EventHandler = on_event or (lambda event: None)
        self.api_url = api_url.rstrip("/")
        self._email = email
        self._password = password
        self._policy = policy or RetryPolicy(attempts=5, budget=300.0)
        self._sleep = sleep
        self._wallclock = wallclock
        self._auth: tuple[str, str] | None = None
        self._generation = 0
        self._login_lock = asyncio.Lock()
        self.logins = 0

    def __repr__(self) -> str:
        return f"AuraClient(api_url={redact(self.api_url)!r}, email={self._email!r})"

    def secrets(self) -> tuple[str, ...]:
        """The password and current token: what output must never show."""
        return (self._password,) + ((self._auth[1],) if self._auth else ())

    @property
    def user_id(self) -> str | None:
        """The logged-in user's id, once logged in."""
        return self._auth[0] if self._auth else None

    async def login(self) -> None:
        """Log in and keep the token for later reads.

        Raises:
            AuthError: Aura refused the credentials (HTTP 475) or the account is locked.
        """
        url = f"{self.api_url}/login.json"
        body = {
            "user": {"email": self._email, "password": self._password},
            "app_identifier": "com.pushd.Framelord",
            "identifier_for_vendor": "aura-async",
            "client_device_id": "aura-async",
            "locale": "en",
        }
        with translate_errors(url):
            async with self.session.post(url, json=body, headers=_headers()) as response:
                if response.status != 200:
                    raise error_for_status(
                        response.status, url, response.headers, self._wallclock()
                    )
                payload = await response.json(content_type=None)
        self._auth = parse_login(payload)
        self._generation += 1
        self._emit(LoggedIn(relogin=self.logins > 0))
        self.logins += 1

    async def _relogin(self, generation: int) -> None:
        async with self._login_lock:
            if self._generation == generation:  # nobody else has logged in again meanwhile
                await self.login()

    async def get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET an API path with the auth headers, retrying transient failures.

        Raises:
            AuthError: still 401 after one re-login.
            NotFound: 404.
            RateLimited, ServerError, TransportError: after the retry policy gave up.
        """
        return await retry.call(
            self._policy, lambda: self._get_json_once(path, params), sleep=self._sleep
        )

    async def _get_json_once(self, path: str, params: Mapping[str, str] | None) -> Any:
        if self._auth is None:
            await self._relogin(self._generation)
        url = f"{self.api_url}/{path}"
        for first in (True, False):
            generation = self._generation
            assert self._auth is not None
            headers = _headers({"X-User-Id": self._auth[0], "X-Token-Auth": self._auth[1]})
            with translate_errors(url):
                async with self.session.get(url, params=params, headers=headers) as response:
                    if response.status == 200:
                        return json.loads(await response.text())
                    error = error_for_status(
                        response.status, url, response.headers, self._wallclock()
                    )
            if response.status != 401:
                raise error
            if first:
                await self._relogin(generation)
        raise AuthError(
            f"token refused again after logging in anew: {redact(url)}",
            url=redact(url),
            status=401,
        )

    async def frames(self) -> list[Frame]:
        """Every frame the account can see (its own and shared ones)."""
        return parse_frames(await self.get_json("frames.json"))

    async def frame(self, frame_id: str) -> Frame:
        """One frame by id.

        Raises:
            NotFound: no such frame, or not visible to this account.
        """
        payload = await self.get_json(f"frames/{quote(frame_id, safe='')}.json")
        if not isinstance(payload, Mapping):
            return parse_frame(None)
        return parse_frame(payload.get("frame"))

    async def all_assets(
        self, frame_id: str, *, page_size: int | None = 500, include_hidden: bool = False
    ) -> list[Asset]:
        """The frame's whole listing, every page (see :meth:`asset_pages`).

        Raises:
            NotFound: the frame id is wrong or not visible to this account.
        """
        pages = self.asset_pages(frame_id, page_size=page_size, include_hidden=include_hidden)
        async with contextlib.aclosing(pages):
            return [asset async for page in pages for asset in page.assets]

    async def asset_pages(
        self,
        frame_id: str,
        *,
        page_size: int | None = 500,
        include_hidden: bool = False,
        keep_raw: bool = False,
        read_ahead: int = READ_AHEAD,
    ) -> AsyncGenerator[AssetPage, None]:
        """Yield the frame's listing page by page, newest first, following cursors.

        Args:
            frame_id: the frame.
            page_size: assets per page; ``None`` asks for everything at once.
            include_hidden: also list assets hidden from the slideshow (``filter=all``).
            keep_raw: keep each page's raw JSON assets in :attr:`AssetPage.raw`.
            read_ahead: pages read ahead of the caller at most, while it works on one (``0``
                for a caller that may stop early: it never asks for a page it will not read).
                An error reading a page is raised when the caller comes to it.
        """
        path = f"frames/{quote(frame_id, safe='')}/assets.json"

        async def fetch(cursor: str | None) -> AssetPage:
            params: dict[str, str] = {}
            if page_size:
                params["limit"] = str(page_size)
            if cursor:
                params["cursor"] = cursor
            if include_hidden:
                params["filter"] = "all"
            return parse_asset_page(await self.get_json(path, params), keep_raw=keep_raw)

        pages = _follow(fetch)
        if read_ahead > 0:
            pages = _read_ahead(pages, read_ahead)
        number = listed = 0
        async with contextlib.aclosing(pages):
            async for page, more in pages:
                number += 1
                listed += len(page.assets)
                self._emit(PageListed(frame_id, number, len(page.assets), listed, more))
                yield page


async def _follow(
    fetch: Callable[[str | None], Awaitable[AssetPage]],
) -> AsyncGenerator[tuple[AssetPage, bool], None]:
    """Each page of a listing and whether more follow, cursor after cursor, until the end,
    an empty page, or a server repeating a cursor."""
    seen: set[str] = set()
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        cursor = page.next_cursor
        more = bool(cursor and page.assets and cursor not in seen)
        yield page, more
        if not more:
            return
        assert cursor is not None
        seen.add(cursor)


async def _read_ahead(
    pages: AsyncGenerator[tuple[AssetPage, bool], None], depth: int
) -> AsyncGenerator[tuple[AssetPage, bool], None]:
    """``pages``, read by a task of its own up to ``depth`` pages ahead of the caller; an
    error is raised in its place, the task stopped when the caller stops."""
    queue: asyncio.Queue[tuple[AssetPage, bool] | Exception] = asyncio.Queue(maxsize=depth)

    async def read() -> None:
        async with contextlib.aclosing(pages):
            try:
                async for item in pages:
                    await queue.put(item)
            except Exception as exc:  # handed to the caller, raised there
                await queue.put(exc)

    reader = asyncio.ensure_future(read())
    try:
        while True:
            item = await queue.get()
            if isinstance(item, Exception):
                raise item
            yield item
            if not item[1]:
                return
    finally:
        if not reader.done():
            reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
