"""What the emulator served, counted so that tests and benchmarks can assert on it:
requests by route and status, faults injected, media requests by file, the most media
requests in flight at once, bytes sent, and what the throttle policy did.

:class:`~aura_async.emulator.app.Emulator` counts a request when its headers go out; the
policy's own figures are a :class:`~aura_async.emulator.policies.GateStats`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .policies import GateStats

__all__ = ["Counters"]

MEDIA_ROUTES = ("image", "video")


@dataclass
class Counters:
    """What the emulator served."""

    requests: Counter[tuple[str, int]] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    files: Counter[str] = field(default_factory=Counter)
    """Media requests by file name (``file_name`` or ``video_file_name``)."""
    media_in_flight: int = 0
    max_media_in_flight: int = 0
    bytes_sent: int = 0
    policy: GateStats = field(default_factory=GateStats)
    """What the throttle policy did: requests served and refused, bans and their length,
    the quota used in each window."""

    def count(self, route: str, status: int | None = None) -> int:
        """Requests to ``route`` (``login``, ``frames``, ``frame``, ``assets``, ``image``,
        ``video``), optionally only those answered with ``status``."""
        return sum(n for (r, s), n in self.requests.items() if r == route and status in (None, s))

    @property
    def media_requests(self) -> int:
        """Image and video requests, whatever their answer."""
        return sum(self.count(route) for route in MEDIA_ROUTES)

    @property
    def throttled(self) -> int:
        """Media requests answered 429 or 503."""
        return sum(self.count(r, s) for r in MEDIA_ROUTES for s in (429, 503))

    @property
    def banned_seconds(self) -> float:
        """Total length of the bans the escalating-ban policy started."""
        return self.policy.banned_seconds

    @property
    def quota_used(self) -> list[int]:
        """Requests served in each window of a window policy, oldest first."""
        return self.policy.quota_used

    def reset(self) -> None:
        """Forget everything counted so far."""
        self.requests.clear()
        self.faults.clear()
        self.files.clear()
        self.max_media_in_flight = self.media_in_flight
        self.bytes_sent = 0
        stats = self.policy
        stats.admitted = stats.refused = stats.bans = 0
        stats.banned_seconds = 0.0
        stats.quota_used.clear()
