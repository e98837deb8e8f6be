"""The one exception tree of aura-async, and the policy of each error.

Every error the library raises is an :class:`AuraError`; third-party errors (aiohttp,
timeouts, JSON) are translated at the HTTP boundary (:mod:`aura_async.api.http`) and the
disk boundaries with ``raise ... from exc``, so callers never need to catch anything else.
Each class says, as class attributes, whether another attempt may cure it
(``retryable``), whether meeting it on one file stops every worker of the frame
(``fatal``), whether it stops the frames after it too (``stops_run``: the account or the
server, not the frame), and the exit code it gives (``exit_code``)::

                                               retryable fatal stops_run exit
    AuraError                                                  .         .      1
    ├── ConfigError(AuraError, ValueError)     bad flags, file, key      .      2
    ├── ManifestError(AuraError, ValueError)   API JSON of a wrong shape .      1
    ├── StorageError(AuraError, OSError)       disk full, state file  fatal     1
    │   └── StateUnreadable                    damaged/newer/stuck db fatal     1
    ├── LockHeld(AuraError)                    another run's folder      .      6
    └── ApiError(AuraError)                    carries .url and .status  .      1
        ├── AuthError                          475; 401 twice         fatal stops 3
        ├── NotFound                           unknown frame, image      .      4
        ├── RateLimited                        429 / 503         retry fatal stops 5
        │   └── WaitedTooLong                  past --max-wait     .   fatal stops 5
        ├── ServerError                        other 5xx         retry   .      1
        ├── TransportError                     resets, timeouts  retry   .      1
        ├── ExpiredUrl                         403 signed URL: refresh   .      1
        └── ProtocolError                      unexpected status/payload .      1
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    """The command's exit codes (DESIGN.md, CLI contract)."""

    OK = 0
    FAILED = 1
    USAGE = 2
    LOGIN = 3
    NOT_FOUND = 4
    THROTTLED = 5
    LOCKED = 6
    INTERRUPTED = 130


class AuraError(Exception):
    """Base of every error raised by aura-async."""

    retryable: ClassVar[bool] = False
    """Another attempt may succeed: the server may answer differently next time."""
    fatal: ClassVar[bool] = False
    """Met on one file, it stops every worker of the frame (the disk, the account)."""
    stops_run: ClassVar[bool] = False
    """It stops the frames after this one too: the account or the server, not the frame."""
    exit_code: ClassVar[ExitCode] = ExitCode.FAILED
    """The command's exit code when this error stops a frame or the run."""


class ConfigError(AuraError, ValueError):
    """The configuration file, a section, a key or a flag is missing or wrong."""

    exit_code = ExitCode.USAGE


class ManifestError(AuraError, ValueError):
    """The API answered JSON that is not of the expected shape."""


class StorageError(AuraError, OSError):
    """Writing to the download folder failed (disk full, permissions, state file)."""

    fatal = True


class StateUnreadable(StorageError):
    """The folder's state database is damaged (truncated, garbage), from a newer version,
    or locked by a process that is gone (a dead NFS client): a run moves it aside and
    adopts the folder's files by name."""


class LockHeld(AuraError):
    """Another run holds the lock of the download folder.

    Attributes:
        holder: a description of the holding process, such as ``pid 1234 on host``.
    """

    exit_code = ExitCode.LOCKED

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

    fatal = True
    stops_run = True
    exit_code = ExitCode.LOGIN


class NotFound(ApiError):
    """The frame or file does not exist, or this account cannot see it."""

    exit_code = ExitCode.NOT_FOUND


class RateLimited(ApiError):
    """The server is throttling (429 or 503).

    Attributes:
        retry_after: seconds the server asked us to wait, or ``None``.
        whole_seconds: its ``Retry-After`` could only say whole seconds (delay-seconds
            or an HTTP date), so ``retry_after`` may be up to a second too long.
    """

    retryable = True
    fatal = True  # once the retry policy has given up: the server, not the file
    stops_run = True
    exit_code = ExitCode.THROTTLED

    def __init__(
        self,
        message: str,
        *,
        url: str = "",
        status: int | None = None,
        retry_after: float | None = None,
        whole_seconds: bool = False,
    ) -> None:
        super().__init__(message, url=url, status=status)
        self.retry_after = retry_after
        self.whole_seconds = whole_seconds


class WaitedTooLong(RateLimited):
    """Waiting as the server asks would take the run past its ``--max-wait`` budget:
    the run gives up now (another attempt would only wait again)."""

    retryable = False


class ServerError(ApiError):
    """The server answered a 5xx other than 503."""

    retryable = True


class TransportError(ApiError):
    """The connection failed: reset, timeout, or a body shorter than announced."""

    retryable = True


class ExpiredUrl(ApiError):
    """A signed video URL was refused (403); the manifest holds a fresh one."""


class ProtocolError(ApiError):
    """The server answered something we do not understand (status, type or payload)."""


def is_retryable(exc: BaseException) -> bool:
    """True for errors that another attempt may cure (:attr:`AuraError.retryable`)."""
    return isinstance(exc, AuraError) and exc.retryable
