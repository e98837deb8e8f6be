"""The HTTP boundary's rules: the one translation point for network errors, the exception
for each status, and redaction of URLs."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from aura_async._version import __version__
from aura_async.config import hide_userinfo
from aura_async.exceptions import (
    ApiError,
    AuthError,
    ExpiredUrl,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    TransportError,
)
from aura_async.pacing.retry import parse_retry_after, whole_seconds

__all__ = ["LOGIN_FAILED", "USER_AGENT", "error_for_status", "redact", "translate_errors"]

LOGIN_FAILED = "login failed: email or password incorrect, or the account is temporarily locked"


USER_AGENT = f"aura-async/{__version__}"


def redact(url: str) -> str:
    """The URL without its query (signed video URLs must not end up in logs) and without
    any ``user:password@``."""
    parts = urlsplit(hide_userinfo(url))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """Re-raise aiohttp, timeout and JSON errors met inside as our exceptions."""
    try:
        yield
    except TimeoutError as exc:
        where = redact(url)  # only on failure: this wraps every request
        raise TransportError(f"timed out: {where}", url=where) from exc
    except aiohttp.ClientPayloadError as exc:
        where = redact(url)
        raise TransportError(f"response cut short: {where}", url=where) from exc
    except aiohttp.ClientResponseError as exc:
        where = redact(url)
        raise ProtocolError(
            f"bad response ({exc.message}): {where}", url=where, status=exc.status
        ) from exc
    except aiohttp.InvalidURL as exc:
        where = redact(url)
        raise ProtocolError(f"invalid URL: {where}", url=where) from exc
    except aiohttp.ClientConnectorError as exc:
        where = redact(url)
        reason = exc.os_error.strerror or str(exc.os_error)
        raise TransportError(f"cannot connect to {where}: {reason}", url=where) from exc
    except aiohttp.ClientError as exc:
        where = redact(url)
        raise TransportError(
            f"connection failed ({type(exc).__name__}): {where}", url=where
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = redact(url)
        raise TransportError(f"malformed JSON from {where}", url=where) from exc


def error_for_status(status: int, url: str, headers: Mapping[str, str], now: float) -> ApiError:
    """The exception for an unexpected HTTP status."""
    where = redact(url)
    if status in (429, 503):
        header = headers.get("Retry-After")
        return RateLimited(
            f"throttled (HTTP {status}): {where}",
            url=where,
            status=status,
            retry_after=parse_retry_after(header, now),
            whole_seconds=whole_seconds(header),
        )
    if status == 475:
        return AuthError(LOGIN_FAILED, url=where, status=status)
    if status == 401:
        return AuthError(f"not authorised (HTTP 401): {where}", url=where, status=status)
    if status == 403 and "Signature=" in url:
        return ExpiredUrl(f"signed URL refused (HTTP 403): {where}", url=where, status=status)
    if status == 404:
        return NotFound(f"not found (HTTP 404): {where}", url=where, status=status)
    if status >= 500:
        return ServerError(f"server error (HTTP {status}): {where}", url=where, status=status)
    return ProtocolError(f"unexpected HTTP {status}: {where}", url=where, status=status)


def _headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    headers.update(extra or {})
    return headers
