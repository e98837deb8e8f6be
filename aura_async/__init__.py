"""aura-async: download every photo, video and Live Photo of an Aura frame.

The library API mirrors what the ``aura-async`` command does; see :func:`run_frames`.
"""

from aura_async._version import __version__
from aura_async.api.client import AuraClient
from aura_async.config import FrameConfig, Settings, default_config_path, load_settings
from aura_async.download.frame import Downloader
from aura_async.download.session import list_frames, run_frames
from aura_async.exceptions import (
    ApiError,
    AuraError,
    AuthError,
    ConfigError,
    ExpiredUrl,
    LockHeld,
    ManifestError,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    StorageError,
    TransportError,
    WaitedTooLong,
)
from aura_async.models import Asset, Frame, MediaKind
from aura_async.options import DEFAULT_RATE, DownloadOptions, RunOptions, Timeouts
from aura_async.pacing.limiter import AdaptiveLimiter
from aura_async.pacing.retry import RetryPolicy
from aura_async.plan.selection import Selection
from aura_async.report import FrameReport
from aura_async.store.records import FileRecord
from aura_async.store.state import State
from aura_async.store.writer import StateWriter

__all__ = [
    "DEFAULT_RATE",
    "AdaptiveLimiter",
    "ApiError",
    "Asset",
    "AuraClient",
    "AuraError",
    "AuthError",
    "ConfigError",
    "DownloadOptions",
    "Downloader",
    "ExpiredUrl",
    "FileRecord",
    "Frame",
    "FrameConfig",
    "FrameReport",
    "LockHeld",
    "ManifestError",
    "MediaKind",
    "NotFound",
    "ProtocolError",
    "RateLimited",
    "RetryPolicy",
    "RunOptions",
    "Selection",
    "ServerError",
    "Settings",
    "State",
    "StateWriter",
    "StorageError",
    "Timeouts",
    "TransportError",
    "WaitedTooLong",
    "__version__",
    "default_config_path",
    "list_frames",
    "load_settings",
    "run_frames",
]
