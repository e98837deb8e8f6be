"""A faithful local Aura server for tests, benchmarks and ``aura-async --demo``.

Start one with ``async with Emulator(EmulatorConfig(...)) as emu:`` or from a shell with
``python -m aura_async.emulator --photos 500 --port 8080``.
"""

from .app import Emulator
from .counters import Counters
from .data import FOREIGN_FRAME_ID, FrameSpec, Library
from .knobs import EmulatorConfig, Faults, RetryAfterMode, Throttle
from .policies import (
    EscalatingBan,
    FixedWindow,
    GateStats,
    LongWait,
    Policy,
    SlidingWindow,
    TokenBucket,
)

__all__ = [
    "FOREIGN_FRAME_ID",
    "Counters",
    "Emulator",
    "EmulatorConfig",
    "EscalatingBan",
    "Faults",
    "FixedWindow",
    "FrameSpec",
    "GateStats",
    "Library",
    "LongWait",
    "Policy",
    "RetryAfterMode",
    "SlidingWindow",
    "Throttle",
    "TokenBucket",
]
