"""The API client against aioresponses: login, re-login, statuses, paging, error mapping."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses
from aioresponses import core as aioresponses_core
from yarl import URL

from aura_async.api.client import AuraClient
from aura_async.exceptions import (
    AuthError,
    ManifestError,
    NotFound,
    ServerError,
)
from aura_async.pacing.retry import RetryPolicy

API = "https://api.example.com/v5"
LOGIN = f"{API}/login.json"
FRAMES = f"{API}/frames.json"
ASSETS = re.compile(rf"^{re.escape(API)}/frames/f1/assets\.json.*$")


def login_body(token: str = "tok-1") -> dict[str, Any]:  # noqa: S107 - a fake token
    return {"error": False, "result": {"current_user": {"id": "user-1", "auth_token": token}}}


class Sleeps:
    """An injected sleep that records waits and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class _NoWriter:
    output_size = 0


class _CompatResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 predates aiohttp 3.14's required ``stream_writer`` argument
    (pnuckowski/aioresponses#289); supply a finished writer until it catches up."""

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _NoWriter())
        super().__init__(method, url, **kwargs)


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    monkeypatch.setattr(aioresponses_core, "ClientResponse", _CompatResponse)
    with aioresponses() as m:
        yield m


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(session: aiohttp.ClientSession, sleeps: Sleeps) -> AuraClient:
    return AuraClient(
        session,
        API,
        "me@example.com",
        "s3cret",
        sleep=sleeps,
        policy=RetryPolicy(attempts=3, budget=60),
    )


class TestLogin:
    async def test_login_sends_credentials(self, client: AuraClient, mocked: aioresponses) -> None:
        """Login posts the credentials and keeps the user id."""
        mocked.post(LOGIN, payload=login_body())
        await client.login()
        assert client.user_id == "user-1"
        (call,) = mocked.requests[("POST", URL(LOGIN))]
        assert call.kwargs["json"]["user"] == {"email": "me@example.com", "password": "s3cret"}

    async def test_475_is_auth_error_and_not_retried(
        self, client: AuraClient, mocked: aioresponses
    ) -> None:
        """HTTP 475 means wrong credentials or lockout: one attempt, a clear message."""
        mocked.post(
            LOGIN,
            status=475,
            payload={"error": True, "message": "The email or password was incorrect."},
        )
        with pytest.raises(AuthError, match=r"email or password incorrect.*locked") as info:
            await client.login()
        assert info.value.status == 475
        assert len(mocked.requests[("POST", URL(LOGIN))]) == 1

    async def test_login_without_token(self, client: AuraClient, mocked: aioresponses) -> None:
        """A 200 without a token is a ManifestError."""
        mocked.post(LOGIN, payload={"result": {}})
        with pytest.raises(ManifestError):
            await client.login()

    def test_repr_hides_password(self, client: AuraClient) -> None:
        """The client's repr shows no password."""
        assert "s3cret" not in repr(client)

    async def test_repr_hides_a_password_in_the_url(self, session: aiohttp.ClientSession) -> None:
        """Nor the password of an api_url with user:password@."""
        client = AuraClient(session, "http://mom:S3cr3t@127.0.0.1:1/v5", "me@example.com", "pw")
        assert "S3cr3t" not in repr(client)
        assert "127.0.0.1:1/v5" in repr(client)


class TestReads:
    async def test_frames_logs_in_lazily(self, client: AuraClient, mocked: aioresponses) -> None:
        """The first read logs in, then sends the auth headers."""
        mocked.post(LOGIN, payload=login_body())
        mocked.get(FRAMES, payload={"frames": [{"id": "f1", "name": "Kitchen"}]})
        frames = await client.frames()
        assert [f.name for f in frames] == ["Kitchen"]
        (call,) = mocked.requests[("GET", URL(FRAMES))]
        assert call.kwargs["headers"]["X-User-Id"] == "user-1"
        assert call.kwargs["headers"]["X-Token-Auth"] == "tok-1"

    async def test_401_logs_in_again_once(self, client: AuraClient, mocked: aioresponses) -> None:
        """A stale token gets exactly one re-login, then the read succeeds."""
        mocked.post(LOGIN, payload=login_body("old"))
        mocked.post(LOGIN, payload=login_body("new"))
        mocked.get(
            FRAMES,
            status=401,
            payload={"error": True, "message": "Request Unauthenticated", "logout": True},
        )
        mocked.get(FRAMES, payload={"frames": []})
        await client.login()
        assert await client.frames() == []
        assert client.logins == 2

    async def test_second_401_is_auth_error(self, client: AuraClient, mocked: aioresponses) -> None:
        """Still 401 after the re-login: AuthError, no login loop."""
        mocked.post(LOGIN, payload=login_body(), repeat=True)
        mocked.get(FRAMES, status=401, repeat=True)
        with pytest.raises(AuthError, match="again after logging in anew"):
            await client.frames()
        assert client.logins == 2

    async def test_concurrent_401s_share_one_relogin(
        self, client: AuraClient, mocked: aioresponses
    ) -> None:
        """Eight readers hitting 401 together cause one re-login, not eight."""
        tokens = iter(["t0", "t1", "t2", "t3"])

        def login(url: Any, **kwargs: Any) -> CallbackResult:
            return CallbackResult(payload=login_body(next(tokens)))

        def frames(url: Any, **kwargs: Any) -> CallbackResult:
            if kwargs["headers"]["X-Token-Auth"] == "t0":
                return CallbackResult(status=401, payload={"error": True})
            return CallbackResult(payload={"frames": []})

        mocked.post(LOGIN, callback=login, repeat=True)
        mocked.get(FRAMES, callback=frames, repeat=True)
        await client.login()
        results = await asyncio.gather(*(client.frames() for _ in range(8)))
        assert results == [[]] * 8
        assert client.logins == 2

    async def test_404_is_not_found(self, client: AuraClient, mocked: aioresponses) -> None:
        """A wrong frame id is NotFound, not retried."""
        mocked.post(LOGIN, payload=login_body())
        url = f"{API}/frames/nope.json"
        mocked.get(url, status=404, payload={"message": "Not found", "error": True})
        with pytest.raises(NotFound):
            await client.frame("nope")
        assert len(mocked.requests[("GET", URL(url))]) == 1

    async def test_429_waits_retry_after_then_succeeds(
        self, client: AuraClient, mocked: aioresponses, sleeps: Sleeps
    ) -> None:
        """A 429 with Retry-After is retried after exactly that wait."""
        mocked.post(LOGIN, payload=login_body())
        mocked.get(FRAMES, status=429, headers={"Retry-After": "7"})
        mocked.get(FRAMES, payload={"frames": []})
        assert await client.frames() == []
        assert sleeps.waits == [7.0]

    async def test_malformed_json_is_retried(
        self, client: AuraClient, mocked: aioresponses
    ) -> None:
        """A truncated JSON body is a transient TransportError, retried."""
        mocked.post(LOGIN, payload=login_body())
        mocked.get(FRAMES, body='{"frames": [', content_type="application/json")
        mocked.get(FRAMES, payload={"frames": []})
        assert await client.frames() == []

    async def test_server_errors_exhaust_retries(
        self, client: AuraClient, mocked: aioresponses, sleeps: Sleeps
    ) -> None:
        """Endless 500s end in ServerError after the policy's attempts."""
        mocked.post(LOGIN, payload=login_body())
        mocked.get(FRAMES, status=500, repeat=True)
        with pytest.raises(ServerError):
            await client.frames()
        assert len(sleeps.waits) == 2
        assert all(0 <= w <= 30 for w in sleeps.waits)


def _chain(mocked: aioresponses, count: int, fail_at: int | None = None) -> list[int]:
    """Serve ``count`` pages of one asset each (``p1``, ``p2``, ...), chained by cursors; the
    page ``fail_at`` answers 404. Returns the list the page numbers asked for go into."""
    asked: list[int] = []

    def assets(url: Any, **kwargs: Any) -> CallbackResult:
        number = int(kwargs["params"].get("cursor", "1"))
        asked.append(number)
        if number == fail_at:
            return CallbackResult(status=404)
        following = str(number + 1) if number < count else None
        return CallbackResult(
            payload={"assets": [{"id": f"p{number}"}], "next_page_cursor": following}
        )

    mocked.get(ASSETS, callback=assets, repeat=True)
    return asked


async def _settle() -> None:
    """Let every task that can run, run (the mocked server answers at once)."""
    for _ in range(200):
        await asyncio.sleep(0)


class TestReadingAhead:
    async def test_pages_are_read_ahead_of_a_busy_caller_up_to_the_depth(
        self, client: AuraClient, mocked: aioresponses
    ) -> None:
        """While the caller works on a page, later pages are read, but no more than
        read_ahead wait for it (and one more on its way); every page comes, in order."""
        mocked.post(LOGIN, payload=login_body())
        asked = _chain(mocked, 20)
        pages = client.asset_pages("f1", page_size=1, read_ahead=3)
        first = await anext(pages)
        await _settle()
        assert asked == [1, 2, 3, 4, 5]
        rest = [page.assets[0].id async for page in pages]
        assert [first.assets[0].id, *rest] == [f"p{n}" for n in range(1, 21)]

    async def test_without_reading_ahead_only_the_pages_asked_for_are_read(
        self, client: AuraClient, mocked: aioresponses
    ) -> None:
        """read_ahead=0 (a caller that may stop early) never asks for a page it did not
        ask for."""
        mocked.post(LOGIN, payload=login_body())
        asked = _chain(mocked, 20)
        pages = client.asset_pages("f1", page_size=1, read_ahead=0)
        await anext(pages)
        await anext(pages)
        await _settle()
        assert asked == [1, 2]
        await pages.aclose()

    async def test_an_error_ahead_is_raised_when_the_caller_comes_to_it(
        self, client: AuraClient, mocked: aioresponses
    ) -> None:
        """A page that failed while read ahead: the pages before it are yielded first, then
        its error, as if it had been read when asked for."""
        mocked.post(LOGIN, payload=login_body())
        _chain(mocked, 20, fail_at=3)
        pages = client.asset_pages("f1", page_size=1, read_ahead=8)
        got = [(await anext(pages)).assets[0].id]
        await _settle()  # the error is known by now
        got.append((await anext(pages)).assets[0].id)
        with pytest.raises(NotFound):
            await anext(pages)
        assert got == ["p1", "p2"]

    async def test_stopping_early_stops_the_reading_ahead(
        self, client: AuraClient, mocked: aioresponses
    ) -> None:
        """A caller that stops (aclose) stops the task reading ahead: nothing more is
        asked for."""
        mocked.post(LOGIN, payload=login_body())
        asked = _chain(mocked, 50)
        pages = client.asset_pages("f1", page_size=1, read_ahead=2)
        await anext(pages)
        await pages.aclose()
        before = len(asked)
        await _settle()
        assert len(asked) == before <= 4


class TestPaging:
    async def test_follows_cursors_to_the_end(
        self, client: AuraClient, mocked: aioresponses
    ) -> None:
        """Pages are fetched until next_page_cursor is null, passing limit and cursor."""
        mocked.post(LOGIN, payload=login_body())
        pages: dict[str | None, dict[str, Any]] = {
            None: {"assets": [{"id": "a"}], "next_page_cursor": "c1"},
            "c1": {"assets": [{"id": "b"}], "next_page_cursor": "c2"},
            "c2": {"assets": [{"id": "c"}], "next_page_cursor": None},
        }

        def assets(url: Any, **kwargs: Any) -> CallbackResult:
            params = kwargs["params"]
            assert params["limit"] == "1"
            assert params["filter"] == "all"
            return CallbackResult(payload=pages[params.get("cursor")])

        mocked.get(ASSETS, callback=assets, repeat=True)
        ids = [
            a.id
            async for p in client.asset_pages("f1", page_size=1, include_hidden=True)
            for a in p.assets
        ]
        assert ids == ["a", "b", "c"]

    async def test_stops_on_a_repeated_cursor(
        self, client: AuraClient, mocked: aioresponses
    ) -> None:
        """A server that hands out the same cursor forever does not loop us forever."""
        mocked.post(LOGIN, payload=login_body())
        mocked.get(
            ASSETS, payload={"assets": [{"id": "a"}], "next_page_cursor": "same"}, repeat=True
        )
        pages = [p async for p in client.asset_pages("f1")]
        assert len(pages) == 2

    async def test_no_limit_asks_for_everything(
        self, client: AuraClient, mocked: aioresponses
    ) -> None:
        """page_size=None sends no limit, as the old script did."""
        mocked.post(LOGIN, payload=login_body())

        def assets(url: Any, **kwargs: Any) -> CallbackResult:
            assert "limit" not in kwargs["params"]
            return CallbackResult(payload={"assets": [{"id": "a"}], "next_page_cursor": None})

        mocked.get(ASSETS, callback=assets)
        assert len([p async for p in client.asset_pages("f1", page_size=None)]) == 1
