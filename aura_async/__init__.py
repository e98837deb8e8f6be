"""aura-async: download every photo, video and Live Photo of an Aura frame.

The library API mirrors what the ``aura-async`` command does; see :func:`run_frames`.
"""

__version__ = "0.1.0"

from .client import AuraClient, Timeouts
from .config import FrameConfig, Settings, default_config_path, load_settings
from .downloader import Downloader, DownloadOptions
from .exceptions import (
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
)
from .limiter import AdaptiveLimiter
from .models import Asset, Frame, MediaKind
from .plan import Selection
from .records import FileRecord
from .report import FrameReport
from .retry import RetryPolicy
from .run import DEFAULT_RATE, RunOptions, list_frames, run_frames
from .state import State
from .state_writer import StateWriter

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
    "__version__",
    "default_config_path",
    "list_frames",
    "load_settings",
    "run_frames",
]
