"""``python -m aura_async.emulator``: serve an emulated Aura until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from .app import Emulator
from .data import FrameSpec
from .knobs import EmulatorConfig, Faults, Throttle
from .policies import EscalatingBan, FixedWindow, LongWait, Policy, SlidingWindow, TokenBucket

POLICIES = ("bucket", "fixed", "sliding", "ban", "long")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m aura_async.emulator",
        description="Serve a local emulated Aura API and image server, and print a config for it.",
    )
    add = p.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    add("--port", type=int, default=0, help="port to bind (default 0: any free port)")
    add("--photos", type=int, default=300, help="photos in the first frame (default 300)")
    add("--videos", type=int, default=5, help="videos in the first frame (default 5)")
    add("--live-photos", type=int, default=5, help="Live Photos in the first frame (default 5)")
    add("--placeholders", type=int, default=3, help="unfinished-upload rows (default 3)")
    add("--hidden", type=int, default=2, help="photos hidden from the slideshow (default 2)")
    add("--extra-frames", type=int, default=1, help="further small frames of 20 photos (default 1)")
    add("--photo-size", type=int, default=64 * 1024, help="bytes per photo (default 65536)")
    add("--video-size", type=int, default=512 * 1024, help="bytes per video (default 524288)")
    add("--seed", type=int, default=0, help="seed of all generated data (default 0)")
    add("--email", default="demo@example.com", help="the account's email (default %(default)s)")
    add(
        "--password",
        default="demo-password",
        help="the account's password; any other gets HTTP 475 (default %(default)s)",
    )
    add("--file-path", default="./aura-photos", help="file_path written into the printed config")
    add("--latency", type=float, default=0.0, help="seconds added to every media request")
    add(
        "--api-latency",
        type=float,
        default=0.0,
        help="seconds added to every API request (login, frames, listing pages)",
    )
    add("--video-url-ttl", type=float, default=3600.0, help="lifetime of signed video URLs (s)")
    add("--token-requests", type=int, default=None, help="a token dies after this many requests")
    add("--lockout", action="store_true", help="refuse every login with 475")
    add("--no-range", action="store_true", help="ignore Range headers")
    add(
        "--throttle",
        choices=POLICIES,
        default=None,
        help="throttle policy of media requests: a token bucket (--throttle-rate, "
        "--throttle-burst), a fixed or sliding window (--quota per --window), an escalating "
        "ban over a bucket (--ban, --ban-repeat-within, --ban-forgive-after), a long wait "
        "(--quota per --window, default 3600 s); default: a bucket if --throttle-rate is given",
    )
    add("--throttle-rate", type=float, default=None, help="bucket: media requests/s allowed")
    add("--throttle-burst", type=int, default=5, help="bucket capacity (default 5)")
    add("--quota", type=int, default=100, help="window: requests per window (default 100)")
    add("--window", type=float, default=None, help="window length in s (default 10; long: 3600)")
    add("--aligned", action="store_true", help="fixed windows start at multiples of --window")
    add("--ban", type=float, default=2.0, help="ban: seconds of the first ban (default 2)")
    add("--ban-repeat-within", type=float, default=10.0, help="ban: an overrun this soon doubles")
    add("--ban-forgive-after", type=float, default=60.0, help="ban: quiet seconds that forgive")
    add("--ban-max", type=float, default=600.0, help="ban: longest ban (default 600 s)")
    add(
        "--retry-after",
        choices=["seconds", "date", "none", "fractional"],
        default="seconds",
        help="how a throttled answer says when to come back: Retry-After in whole seconds, "
        "as an HTTP date, not at all, or in fractional seconds (default %(default)s)",
    )
    add(
        "--throttle-status",
        type=int,
        choices=[429, 503],
        default=429,
        help="the status of a throttled answer (default %(default)s)",
    )
    faults = {
        "http-500": "an HTTP 500 error page, per media request",
        "reset": "a connection reset halfway through a media body",
        "truncate": "a media body cut short (the connection closed halfway)",
        "stall": "a media body that stops halfway for --stall-seconds, then is cut",
        "html-error": "an HTML error page with status 200, per media request",
        "malformed-listing": "a listing page cut in half (not valid JSON)",
        "expire-video": "a signed video URL refused as expired (HTTP 403)",
    }
    for name, what in faults.items():
        add(
            f"--fault-{name}",
            type=float,
            default=0.0,
            metavar="P",
            help=f"probability of {what} (default 0)",
        )
    add(
        "--stall-seconds",
        type=float,
        default=30.0,
        help="seconds a stalled body stops before it is cut (default %(default)s)",
    )
    add(
        "--fault-seed",
        type=int,
        default=0,
        help="seed of the fault draws, so a run's faults repeat (default %(default)s)",
    )
    return p


def policy_from_args(args: argparse.Namespace) -> Policy | None:
    """The throttle policy the flags describe, or ``None`` for none."""
    kind = args.throttle or ("bucket" if args.throttle_rate else None)
    rate = args.throttle_rate or 20.0
    if kind == "bucket":
        return TokenBucket(rate, args.throttle_burst)
    if kind == "fixed":
        return FixedWindow(args.quota, args.window or 10.0, aligned=args.aligned)
    if kind == "sliding":
        return SlidingWindow(args.quota, args.window or 10.0)
    if kind == "ban":
        return EscalatingBan(
            rate,
            args.throttle_burst,
            ban=args.ban,
            repeat_within=args.ban_repeat_within,
            forgive_after=args.ban_forgive_after,
            max_ban=args.ban_max,
        )
    if kind == "long":
        return LongWait(args.quota, args.window or 3600.0)
    return None


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """Turn parsed flags into an :class:`EmulatorConfig`."""
    frames = [
        FrameSpec(
            photos=args.photos,
            videos=args.videos,
            live_photos=args.live_photos,
            placeholders=args.placeholders,
            hidden=args.hidden,
        )
    ]
    frames += [
        FrameSpec(
            name=f"Frame {i + 2}", photos=20, videos=0, live_photos=0, placeholders=0, hidden=0
        )
        for i in range(args.extra_frames)
    ]
    return EmulatorConfig(
        email=args.email,
        password=args.password,
        frames=frames,
        seed=args.seed,
        photo_size=args.photo_size,
        video_size=args.video_size,
        media_latency=args.latency,
        api_latency=args.api_latency,
        video_url_ttl=args.video_url_ttl,
        token_requests=args.token_requests,
        lockout=args.lockout,
        range_support=not args.no_range,
        throttle=Throttle(
            rate=args.throttle_rate,
            burst=args.throttle_burst,
            policy=policy_from_args(args),
            retry_after=args.retry_after,
            status=args.throttle_status,
        ),
        faults=Faults(
            seed=args.fault_seed,
            http_500=args.fault_http_500,
            reset=args.fault_reset,
            truncate=args.fault_truncate,
            stall=args.fault_stall,
            stall_seconds=args.stall_seconds,
            html_error=args.fault_html_error,
            malformed_listing=args.fault_malformed_listing,
            expire_video=args.fault_expire_video,
        ),
    )


async def _serve(args: argparse.Namespace) -> None:
    emulator = Emulator(config_from_args(args))
    await emulator.start(args.host, args.port)
    print(f"# Aura emulator serving on {emulator.base_url} (Ctrl-C to stop)")
    print("# Save this as a config file and run: aura-async --config FILE myframe")
    print(emulator.config_text(args.file_path), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.close()


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m aura_async.emulator``."""
    args = _parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    print("\n# emulator stopped", file=sys.stderr)


if __name__ == "__main__":
    main()
