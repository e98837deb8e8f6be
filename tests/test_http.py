"""api/http.py: the one translation point for third-party errors, the exception for each
status, and the redaction of URLs."""

from __future__ import annotations

import json

import aiohttp
import pytest

from aura_async._version import __version__
from aura_async.api.http import USER_AGENT, error_for_status, redact, translate_errors
from aura_async.exceptions import (
    AuthError,
    ExpiredUrl,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    TransportError,
)


class TestErrorMapping:
    @pytest.mark.parametrize(
        ("raised", "expected"),
        [
            (TimeoutError(), TransportError),
            (aiohttp.ClientPayloadError("cut"), TransportError),
            (aiohttp.ServerDisconnectedError(), TransportError),
            (aiohttp.ClientConnectionResetError("reset"), TransportError),
            (aiohttp.ClientOSError(104, "reset"), TransportError),
            (
                aiohttp.ClientConnectorError(
                    aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None),
                    OSError(111, "refused"),
                ),
                TransportError,
            ),
            (
                aiohttp.ClientResponseError(None, (), status=400, message="bad"),  # type: ignore[arg-type]
                ProtocolError,
            ),
            (aiohttp.InvalidURL("x"), ProtocolError),
            (json.JSONDecodeError("x", "doc", 0), TransportError),
            (aiohttp.ClientError("other"), TransportError),
        ],
    )
    def test_every_third_party_error_is_mapped(
        self, raised: BaseException, expected: type[Exception]
    ) -> None:
        """aiohttp, timeout and JSON errors leave the boundary as our own, chained."""
        with pytest.raises(expected) as info, translate_errors("https://x/y?Signature=secret"):
            raise raised
        assert info.value.__cause__ is raised
        assert "secret" not in str(info.value)

    @pytest.mark.parametrize(
        ("status", "url", "expected"),
        [
            (429, "https://x/a", RateLimited),
            (503, "https://x/a", RateLimited),
            (475, "https://x/login.json", AuthError),
            (401, "https://x/a", AuthError),
            (403, "https://x/v.mp4?Expires=1&Signature=s", ExpiredUrl),
            (403, "https://x/a.jpg", ProtocolError),
            (404, "https://x/a", NotFound),
            (500, "https://x/a", ServerError),
            (502, "https://x/a", ServerError),
            (418, "https://x/a", ProtocolError),
        ],
    )
    def test_status_table(self, status: int, url: str, expected: type[Exception]) -> None:
        """Each HTTP status maps to one exception class."""
        error = error_for_status(status, url, {}, 0.0)
        assert type(error) is expected
        assert error.status == status
        assert "Signature" not in str(error)

    def test_retry_after_is_parsed(self) -> None:
        """429 carries the Retry-After in seconds."""
        error = error_for_status(429, "https://x", {"Retry-After": "3"}, 0.0)
        assert isinstance(error, RateLimited)
        assert error.retry_after == 3.0
        assert error.whole_seconds  # perhaps rounded up: see the limiter's early try
        exact = error_for_status(503, "https://x", {"Retry-After": "0.25"}, 0.0)
        assert isinstance(exact, RateLimited)
        assert (exact.retry_after, exact.whole_seconds) == (0.25, False)


class TestRedact:
    @pytest.mark.parametrize(
        ("url", "shown"),
        [
            ("https://api.example/v5/frames.json", "https://api.example/v5/frames.json"),
            (
                "https://cdn.example/v/a.mp4?Expires=1&Signature=s&Key-Pair-Id=K",
                "https://cdn.example/v/a.mp4",
            ),
            ("http://mom:S3cr3t@127.0.0.1:1/v5/login.json", "http://***@127.0.0.1:1/v5/login.json"),
            ("http://mom:S3cr3t@127.0.0.1:1/v.mp4?Signature=s#t", "http://***@127.0.0.1:1/v.mp4"),
            (
                "http://mom:S3#cr3t@127.0.0.1:1/v5/login.json",
                "http://***@127.0.0.1:1/v5/login.json",
            ),
            ("https://img.example/u1/a.jpg#frag", "https://img.example/u1/a.jpg"),
            ("http://127.0.0.1:8080/u/p.jpg?w=10", "http://127.0.0.1:8080/u/p.jpg"),
            ("", ""),
        ],
    )
    def test_table(self, url: str, shown: str) -> None:
        """A URL in a message keeps scheme, host and path: no query (signed video URLs), no
        fragment, no user:password@."""
        assert redact(url) == shown

    @pytest.mark.parametrize("status", [401, 403, 404, 429, 500, 418])
    def test_status_errors_hide_userinfo(self, status: int) -> None:
        """An HTTP error about a URL with user:password@ never shows them."""
        error = error_for_status(status, "http://mom:S3cr3t@127.0.0.1:1/v5/a?Signature=s", {}, 0.0)
        assert "S3cr3t" not in str(error)
        assert "S3cr3t" not in str(error.url)
        assert "127.0.0.1:1/v5/a" in str(error)

    def test_transport_errors_hide_userinfo(self) -> None:
        """Nor does an error translated at the boundary (here connection refused)."""
        refused = aiohttp.ClientConnectorError(
            aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None),
            OSError(111, "refused"),
        )
        url = "http://mom:S3cr3t@127.0.0.1:1/v5/login.json"
        with pytest.raises(TransportError) as info, translate_errors(url):
            raise refused
        assert str(info.value) == "cannot connect to http://***@127.0.0.1:1/v5/login.json: refused"


def test_no_error_passes_through_untouched() -> None:
    """Inside translate_errors, a clean block is left alone, and our own errors go
    through as they are."""
    with translate_errors("https://x"):
        pass
    error = NotFound("mine")
    with pytest.raises(NotFound) as info, translate_errors("https://x"):
        raise error
    assert info.value is error


def test_user_agent_names_the_version() -> None:
    """Requests say which aura-async sent them."""
    assert f"aura-async/{__version__}" == USER_AGENT
