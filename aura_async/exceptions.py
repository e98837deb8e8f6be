"""The one exception tree of aura-async.

Every error the library raises is an :class:`AuraError`; third-party errors (aiohttp,
timeouts, JSON) are translated at the client and downloader boundaries with
``raise ... from exc``, so callers never need to catch anything else::

    AuraError
    ├── ConfigError(AuraError, ValueError)     bad flags, file, section, key
    ├── ManifestError(AuraError, ValueError)   API JSON not of the expected shape
    ├── StorageError(AuraError, OSError)       disk full, permissions, state file
    ├── LockHeld(AuraError)                    another run holds the folder's lock
    └── ApiError(AuraError)                    carries .url and .status
        ├── AuthError                          475 on login, 401 after one re-login; never retried
        ├── NotFound                           unknown or foreign frame id, missing image
        ├── RateLimited                        429 / 503; .retry_after; retryable
        ├── ServerError                        other 5xx; retryable
        ├── TransportError                     resets, timeouts, truncated bodies; retryable
        ├── ExpiredUrl                         403 on a signed video URL; refresh it
        └── ProtocolError                      unexpected status or payload
"""

from __future__ import annotations


class AuraError(Exception):
    """Base of every error raised by aura-async."""


class ConfigError(AuraError, ValueError):
    """The configuration file, a section, a key or a flag is missing or wrong."""


class ManifestError(AuraError, ValueError):
    """The API answered JSON that is not of the expected shape."""


class StorageError(AuraError, OSError):
    """Writing to the download folder failed (disk full, permissions, state file)."""


class LockHeld(AuraError):
    """Another run holds the lock of the download folder.

    Attributes:
        holder: a description of the holding process, such as ``pid 1234 on host``.
    """

    def __init__(self, message: str, holder: str = "") -> None:
        super().__init__(message)
        self.holder = holder


class ApiError(AuraError):
    """An HTTP exchange with Aura failed.

    Attributes:
        url: the URL requested, with any signature query removed.
        status: the HTTP status, or ``None`` when no response arrived.
    """

    def __init__(self, message: str, *, url: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class AuthError(ApiError):
    """Login was refused (HTTP 475) or a token stayed invalid after one re-login."""


class NotFound(ApiError):
    """The frame or file does not exist, or this account cannot see it."""


class RateLimited(ApiError):
    """The server is throttling (429 or 503).

    Attributes:
        retry_after: seconds the server asked us to wait, or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, url=url, status=status)
        self.retry_after = retry_after


class ServerError(ApiError):
    """The server answered a 5xx other than 503."""


class TransportError(ApiError):
    """The connection failed: reset, timeout, or a body shorter than announced."""


class ExpiredUrl(ApiError):
    """A signed video URL was refused (403); the manifest holds a fresh one."""


class ProtocolError(ApiError):
    """The server answered something we do not understand (status, type or payload)."""


RETRYABLE: tuple[type[ApiError], ...] = (RateLimited, ServerError, TransportError)
"""Errors worth another attempt: the server may answer differently next time."""
