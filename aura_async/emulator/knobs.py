"""What the emulator can be asked to be: its account, frames, sizes and latencies, and the
knobs that switch on the behaviours ``reference/aura-api.md`` marks [GUESS] (how it
throttles, :class:`Throttle`; which faults it injects, :class:`Faults`).

Plain data: :class:`~aura_async.emulator.app.Emulator` reads an :class:`EmulatorConfig`,
whose throttle policy is read at the first media request, so a test may change it after
the server has started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .data import FrameSpec
from .policies import Policy, TokenBucket

__all__ = ["EmulatorConfig", "Faults", "RetryAfterMode", "Throttle"]


RetryAfterMode = Literal["seconds", "date", "none", "fractional"]


@dataclass
class Throttle:
    """How the server throttles image and video requests (:mod:`.policies`).

    Attributes:
        rate: a token bucket's requests per second (with ``burst``), the policy when
            ``policy`` is not given; ``None`` and no ``policy`` switch throttling off.
        burst: that bucket's capacity.
        policy: any policy of :mod:`aura_async.emulator.policies` (a fixed or sliding
            window, an escalating ban, a long wait, a token bucket); overrides ``rate``.
        retry_after: how 429s say when to come back: ``seconds`` (an integer, rounded up),
            ``date`` (an HTTP date, RFC 9110 10.2.3, rounded up to the next second),
            ``none`` (no header, like imgproxy) or ``fractional`` (exact seconds with
            decimals: not RFC-conformant, but lets tests throttle without waiting whole
            seconds).
        status: 429, or 503 for the overloaded-gateway variant.
    """

    rate: float | None = None
    burst: int = 5
    policy: Policy | None = None
    retry_after: RetryAfterMode = "seconds"
    status: int = 429

    def resolved(self) -> Policy | None:
        """The policy in force: ``policy``, else a token bucket of ``rate``, else none."""
        if self.policy is not None:
            return self.policy
        return TokenBucket(self.rate, self.burst) if self.rate else None


@dataclass
class Faults:
    """Seeded fault probabilities on media requests (and the listing, for malformed JSON).

    Each probability is drawn per request, from one generator seeded with ``seed``.
    """

    seed: int = 0
    http_500: float = 0.0
    reset: float = 0.0
    truncate: float = 0.0
    stall: float = 0.0
    stall_seconds: float = 30.0
    html_error: float = 0.0
    malformed_listing: float = 0.0
    expire_video: float = 0.0


@dataclass
class EmulatorConfig:
    """Everything the emulator can be asked to be."""

    email: str = "demo@example.com"
    password: str = "demo-password"  # noqa: S105 - the emulator's documented demo account
    frames: list[FrameSpec] = field(default_factory=lambda: [FrameSpec()])
    seed: int = 0
    photo_size: int = 64 * 1024
    video_size: int = 512 * 1024
    api_latency: float = 0.0
    media_latency: float = 0.0
    video_url_ttl: float = 3600.0
    token_requests: int | None = None
    lockout: bool = False
    range_support: bool = True
    throttle: Throttle = field(default_factory=Throttle)
    faults: Faults = field(default_factory=Faults)
