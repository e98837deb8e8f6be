"""Throttling sweep in virtual time: the limiter's decisions against many server policies.

:mod:`benchmarks.throttle` runs the real command against the emulator, in real time, for
one set of parameters per policy. This script asks the question of issue 14 for the other
parameters too: token buckets of 5 to 50 requests per second with bursts of 1, 5 and 20;
fixed and sliding windows of 5 to 60 s with quotas of 75, 100 and 150; escalating bans of
1 to 10 s over buckets of 5 to 40 per second; long waits (a quota per minute or per five
minutes). Each policy is met with every ``Retry-After`` mode (``seconds``, ``date``,
``none``, ``fractional``), a few hundred variants in all, in a few seconds: the clock is
virtual.

What runs is real: the run's :class:`~aura_async.pacing.limiter.AdaptiveLimiter`, the
emulator's policy gates (:mod:`aura_async.emulator.policies`), the emulator's way of
writing ``Retry-After`` (:func:`retry_after_header`, pinned to the emulator's own by
``tests/test_benchmarks.py``) and the client's way of reading it
(:func:`aura_async.api.http.error_for_status`, which calls
:func:`~aura_async.pacing.retry.parse_retry_after`). What is simulated is the network and
the clock: an asyncio event loop (:class:`VirtualLoop`) whose clock jumps to the next
timer whenever nothing is ready, so a 30-minute long wait costs no more than a
millisecond's. The figures are therefore the limiter's decisions, not the machine's: the
same on any machine, with no spread between rounds, and blind to what the wall clock
adds (CPU, the event loop's overhead, the disk).

The workers mirror :meth:`aura_async.download.pool.Transfers.fetch_queued` and its
``attempt`` loop: ``--workers`` tasks in a task group take jobs from a queue (one
``None`` per worker ends them); each job goes through :func:`aura_async.pacing.retry.call`
with the default :class:`~aura_async.pacing.retry.RetryPolicy`; each attempt acquires a
ticket, makes the request, hands a throttle to ``on_throttle(ticket, retry_after)`` and
goes back to acquire, hands a success to ``on_success(ticket)``, and an answer that never
came to ``on_failure(ticket)``; ``WaitedTooLong`` from ``acquire`` stops every worker,
as past ``--max-wait`` it stops the run (exit 5). Where it differs from the real pool:

* no bytes: a request takes ``--latency`` / 2 plus a seeded random jitter of up to
  ``--jitter`` to reach the server, whose gate then decides at that virtual moment, and
  ``--latency`` / 2 back, served or throttled alike (no body, no disk, no commit thread);
* no other faults: nothing is reset, timed out or answered 5xx, so ``on_failure`` and the
  retry policy's own waits never happen;
* no listing and no login: the clock starts when the workers do, and stops when the last
  answer arrives (``benchmarks/throttle.py``'s ``seconds`` include the listing);
* no events (``Throttled``, ``Paced``) and no folder memory: every variant starts fresh,
  as a first run does.

Each variant's **least time** is ``benchmarks/throttle.py``'s (:func:`least_time`: the
time the policy's allowance needs, as if requests took no time and the client knew the
policy), and its targets are that script's too (issue 14): elapsed / least <= 1.10 for a
token bucket or a fixed window with ``Retry-After``, <= 1.3 for a fixed window without
it and for an escalating ban; no more than 3 % of requests throttled under any policy. A
server allowing more than ``--rate`` is bound by the client's ceiling, not by the
policy: such variants are marked ``ceiling`` and have only the throttled share as target.
A variant that gives up past ``--max-wait`` is a miss unless its least time is past it
too. ``--rate0`` runs every variant again without a ceiling (``--rate 0``) and compares:
within 1.05 of the default.

Printed: a row per variant (elapsed, least, their ratio, the throttled share, the bans
the server started, the time the limiter counted as lost to waits, the verdict), then per
policy and ``Retry-After`` mode the worst ratio (of the variants not bound by the
ceiling), its target, the worst share, and the misses. The exit status is 1 when a target is missed.

``--trace "bucket(20, burst=1)"`` (a policy as a call of its class, or of its short name:
``bucket``, ``fixed``, ``sliding``, ``ban``, ``long``) runs that one policy in each
``--modes`` and prints every throttle: the ``Retry-After`` sent and as parsed, the
ticket, the limiter's verdict, and its rate, cap and window afterwards.

Usage: python benchmarks/throttle_sweep.py [--photos 300] [--policies bucket,fixed]
       [--modes seconds,date,none,fractional] [--workers 8] [--rate 25] [--rate0]
       [--max-wait 1800] [--latency 0.004] [--jitter 0.002] [--seed 1] [--summary-only]
       [--trace "fixed(100, 10)"]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import math
import random
import selectors
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from pathlib import Path
from typing import get_args

from aura_async.api.http import error_for_status
from aura_async.emulator import (
    EscalatingBan,
    FixedWindow,
    LongWait,
    Policy,
    RetryAfterMode,
    SlidingWindow,
    TokenBucket,
)
from aura_async.emulator.policies import Gate
from aura_async.exceptions import AuraError, RateLimited
from aura_async.options import DEFAULT_MAX_WAIT, DEFAULT_RATE
from aura_async.pacing import retry
from aura_async.pacing.limiter import AdaptiveLimiter, Ticket, Verdict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.throttle import (
    MAX_RATE0,
    MAX_SHARE,
    NAMES,
    allowance,
    least_time,
    ratio_target,
)

__all__ = [
    "MODES",
    "Deadlock",
    "Outcome",
    "Settings",
    "Variant",
    "VirtualLoop",
    "bookkeeping",
    "main",
    "parse_policy",
    "retry_after_header",
    "simulate",
    "sweep",
]

MODES: tuple[RetryAfterMode, ...] = get_args(RetryAfterMode)
WALL0 = 1_700_000_000.37
"""The wall clock (Unix time) at virtual time 0, for ``Retry-After`` dates: a fraction of
a second past a whole one, so that a date rounded up to whole seconds costs time, as it
would."""
URL = "https://imgproxy.example/sweep/photo.jpg"  # only in the RateLimited's message

CLASSES: dict[str, type[Policy]] = {
    "bucket": TokenBucket,
    "fixed": FixedWindow,
    "sliding": SlidingWindow,
    "ban": EscalatingBan,
    "long": LongWait,
}


# ---------------------------------------------------------------------- virtual time
class Deadlock(RuntimeError):
    """Nothing is ready and no timer is set: in virtual time, nothing would ever happen."""


class _JumpingSelector(selectors.DefaultSelector):
    """A selector that never waits: its timeout moves the loop's clock instead.

    Nothing in a simulation does I/O (the loop's own wake-up pipe is registered, never
    written to), so it returns no events without asking the kernel.
    """

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            raise Deadlock("every task waits and no timer is set")
        self.now += max(0.0, timeout)
        return []


class VirtualLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose clock starts at 0 and jumps to the next timer when nothing
    is ready: ``await asyncio.sleep(600)`` returns at once, 600 virtual seconds later.
    Only for code that does no real I/O."""

    def __init__(self) -> None:
        self._jumping = _JumpingSelector()
        super().__init__(self._jumping)

    def time(self) -> float:
        return self._jumping.now


# ---------------------------------------------------------------------- the server
def retry_after_header(mode: RetryAfterMode, wait: float, wall: float) -> str | None:
    """The ``Retry-After`` the emulator sends for a throttle asking ``wait`` seconds at
    Unix time ``wall`` (as :class:`aura_async.emulator.Emulator` writes it)."""
    if mode == "seconds":
        return str(max(1, math.ceil(wait)))
    if mode == "fractional":
        return f"{math.ceil(wait * 1000) / 1000:.3f}"
    if mode == "date":
        return formatdate(math.ceil(wall + wait), usegmt=True)
    return None


@dataclass(frozen=True)
class Response:
    """What the simulated server answered: a status and its headers (no body)."""

    status: int
    headers: dict[str, str]


class Server:
    """A media server in virtual time: one policy gate, asked at the moment each request
    arrives, made at the first request (as the emulator makes it)."""

    def __init__(
        self,
        policy: Policy,
        mode: RetryAfterMode,
        photos: int,
        *,
        latency: float,
        jitter: float,
        seed: int,
    ) -> None:
        self.policy = policy
        self.mode = mode
        self.latency = latency
        self.jitter = jitter
        self._rng = random.Random(seed)
        self._gate: Gate | None = None
        self.served = [0] * photos
        """Requests served per file (each should be 1 at the end)."""
        self.requests = 0
        """Requests that reached the server."""
        self.throttled = 0
        """Requests it refused."""

    @property
    def gate(self) -> Gate | None:
        """The policy's running state (``None`` before the first request)."""
        return self._gate

    async def request(self, photo: int) -> Response:
        """Fetch photo number ``photo``: its answer, after the way there and back."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(self.latency / 2 + self._rng.random() * self.jitter)
        # counted here, as the emulator counts: a request cancelled on its way never arrived
        now = loop.time()
        if self._gate is None:
            self._gate = self.policy.gate(now)
        wait = self._gate.admit(now)
        self.requests += 1
        if wait:
            self.throttled += 1
            header = retry_after_header(self.mode, wait, WALL0 + now)
            response = Response(429, {} if header is None else {"Retry-After": header})
        else:
            self.served[photo] += 1
            response = Response(200, {})
        await asyncio.sleep(self.latency / 2)
        return response


# ---------------------------------------------------------------------- the client
Tracer = Callable[[float, Response, float | None, Ticket, Verdict, AdaptiveLimiter], None]
"""Told of each throttle: the time, the answer, its ``Retry-After`` as parsed, the ticket,
the verdict, the limiter after it."""


@dataclass
class Outcome:
    """One variant's run."""

    elapsed: float
    """Virtual seconds from the workers' start to the last answer (``inf``: gave up)."""
    requests: int
    throttled: int
    served: list[int]
    """Requests the server served per file."""
    admitted: int
    """Requests the policy's gate let through (its own count)."""
    refused: int
    """Requests it refused."""
    bans: int
    lost: float
    """Seconds the limiter counted as lost to the server's waits."""
    rate: float
    cap: float
    gave_up: str | None = None
    """The error that stopped the run (past ``--max-wait``), if one did."""

    @property
    def share(self) -> float:
        """Throttled share of the requests."""
        return self.throttled / self.requests if self.requests else 0.0


async def download(
    server: Server,
    limiter: AdaptiveLimiter,
    photos: int,
    workers: int,
    *,
    tracer: Tracer | None = None,
) -> float:
    """Fetch every photo with ``workers`` workers as the real pool does; the elapsed time.

    Raises:
        AuraError: a fatal error (past ``--max-wait``) stopped every worker.
    """
    loop = asyncio.get_running_loop()
    policy = retry.RetryPolicy()
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    for photo in range(photos):
        queue.put_nowait(photo)
    for _ in range(workers):
        queue.put_nowait(None)

    async def fetch(photo: int) -> None:
        async def attempt() -> None:
            while True:  # pool.Transfers._fetch's attempt
                ticket = await limiter.acquire()
                answered = False
                try:
                    response = await server.request(photo)
                    answered = True
                    if response.status != 200:
                        raise error_for_status(response.status, URL, response.headers, wall())
                except RateLimited as exc:
                    verdict = limiter.on_throttle(
                        ticket, exc.retry_after, whole_seconds=exc.whole_seconds
                    )
                    if tracer is not None:
                        tracer(loop.time(), response, exc.retry_after, ticket, verdict, limiter)
                    continue
                finally:
                    if not answered:
                        limiter.on_failure(ticket)
                limiter.on_success(ticket)
                return

        await retry.call(policy, attempt, sleep=asyncio.sleep)

    def wall() -> float:
        return WALL0 + loop.time()

    async def worker() -> None:
        while (photo := await queue.get()) is not None:
            await fetch(photo)

    started = loop.time()
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(worker())
    except BaseExceptionGroup as group_error:
        fatal = [e for e in group_error.exceptions if isinstance(e, AuraError)]
        if fatal:
            raise fatal[0] from None
        raise
    return loop.time() - started


@dataclass(frozen=True)
class Variant:
    """One server to meet: a policy (with its short name) and a ``Retry-After`` mode."""

    name: str
    policy: Policy
    mode: RetryAfterMode


@dataclass(frozen=True)
class Settings:
    """The client's side of a sweep."""

    photos: int = 300
    workers: int = 8
    rate: float | None = DEFAULT_RATE
    max_wait: float = DEFAULT_MAX_WAIT
    latency: float = 0.004
    jitter: float = 0.002
    seed: int = 1


def simulate(variant: Variant, settings: Settings, tracer: Tracer | None = None) -> Outcome:
    """Run one variant in virtual time."""
    server = Server(
        variant.policy,
        variant.mode,
        settings.photos,
        latency=settings.latency,
        jitter=settings.jitter,
        seed=settings.seed,
    )

    async def run() -> Outcome:
        limiter = AdaptiveLimiter(settings.rate, max_wait=settings.max_wait)
        gave_up = None
        try:
            elapsed = await download(
                server, limiter, settings.photos, settings.workers, tracer=tracer
            )
        except AuraError as exc:
            elapsed, gave_up = math.inf, str(exc)
        gate = server.gate
        stats = gate.stats if gate is not None else None
        return Outcome(
            elapsed=elapsed,
            requests=server.requests,
            throttled=server.throttled,
            served=server.served,
            admitted=stats.admitted if stats else 0,
            refused=stats.refused if stats else 0,
            bans=stats.bans if stats else 0,
            lost=limiter.lost,
            rate=limiter.rate,
            cap=limiter.cap,
            gave_up=gave_up,
        )

    with asyncio.Runner(loop_factory=VirtualLoop) as runner:
        return runner.run(run())


def bookkeeping(outcome: Outcome, photos: int) -> list[str]:
    """What does not add up in an outcome (empty: every file was served exactly once,
    unless the run gave up, and the server's counts agree with the gate's)."""
    problems = []
    if len(outcome.served) != photos:
        problems.append(f"{len(outcome.served)} files counted, not {photos}")
    if outcome.gave_up is None:
        wrong = [i for i, n in enumerate(outcome.served) if n != 1]
        if wrong:
            problems.append(f"{len(wrong)} files not served exactly once (first: {wrong[0]})")
    elif any(n > 1 for n in outcome.served):
        problems.append("a file was served twice")
    if outcome.admitted != sum(outcome.served):
        problems.append(f"gate admitted {outcome.admitted}, served {sum(outcome.served)}")
    if outcome.refused != outcome.throttled:
        problems.append(f"gate refused {outcome.refused}, throttled {outcome.throttled}")
    if outcome.requests != outcome.admitted + outcome.refused:
        problems.append(f"{outcome.requests} requests, {outcome.admitted + outcome.refused} seen")
    return problems


# ---------------------------------------------------------------------- the sweep
def sweep(names: Sequence[str]) -> list[tuple[str, Policy]]:
    """The policies of the sweep, of the kinds named (issue 14's parameter ranges)."""
    grid: list[tuple[str, Policy]] = []
    for name in names:
        if name == "bucket":
            grid += [
                (name, TokenBucket(rate, burst))
                for rate in (5, 10, 15, 20, 30, 50)
                for burst in (1, 5, 20)
            ]
        elif name in ("fixed", "sliding"):
            kind = FixedWindow if name == "fixed" else SlidingWindow
            grid += [
                (name, kind(quota, window))
                for window in (5, 10, 30, 60)
                for quota in (75, 100, 150)
            ]
        elif name == "ban":
            grid += [
                (name, EscalatingBan(rate, 5, ban=ban, repeat_within=10.0))
                for rate in (5, 10, 20, 40)
                for ban in (1, 2, 5, 10)
            ]
        elif name == "long":
            grid += [(name, LongWait(200, period)) for period in (60, 300)]
    return grid


def label(policy: Policy) -> str:
    """A short name for a variant's parameters."""
    if isinstance(policy, EscalatingBan):
        return f"ban {policy.ban:g} s over {policy.rate:g}/s burst {policy.burst}"
    if isinstance(policy, TokenBucket):
        return f"{policy.rate:g}/s burst {policy.burst}"
    if isinstance(policy, LongWait):
        return f"{policy.quota} per {policy.period:g} s"
    return f"{policy.quota} per {policy.window:g} s"


def parse_policy(text: str) -> tuple[str, Policy]:
    """A policy written as a call, ``bucket(20, burst=1)`` or ``TokenBucket(20, 1)``, with
    its short name (literal arguments only: nothing is evaluated).

    Raises:
        ValueError: not such a call.
    """
    forms = ", ".join(f"{n}(...) or {c.__name__}(...)" for n, c in CLASSES.items())
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"not a policy: {text!r} (write {forms})") from exc
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise ValueError(f"not a policy: {text!r} (write {forms})")
    by_class = {c.__name__: n for n, c in CLASSES.items()}
    name = by_class.get(call.func.id, call.func.id)
    if name not in CLASSES:
        raise ValueError(f"unknown policy {call.func.id!r} (write {forms})")
    try:
        args = [ast.literal_eval(a) for a in call.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
        return name, CLASSES[name](*args, **kwargs)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"bad arguments in {text!r}: {exc}") from exc


@dataclass
class Row:
    """A variant's result and verdict."""

    variant: Variant
    outcome: Outcome
    least: float
    ratio: float
    target: float | None
    ceiling: bool
    misses: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """What the row says of the targets."""
        if self.misses:
            return "MISS: " + "; ".join(self.misses)
        if self.outcome.gave_up is not None:
            return "gave up past --max-wait (the least time is past it too)"
        if self.ceiling:
            return "ceiling (only the share is a target)"
        return f"met (<= {self.target:.2f})" if self.target is not None else "met"


def judge(variant: Variant, outcome: Outcome, settings: Settings) -> Row:
    """The variant's ratio against its least time, and the targets it misses."""
    least = least_time(variant.policy, settings.photos)
    ratio = outcome.elapsed / least if least > 0 else math.nan
    rate = settings.rate
    ceiling = rate is not None and rate > 0 and allowance(variant.policy) > rate
    # a policy that allows every photo at once (least time 0) leaves no ratio to judge
    target = None if ceiling or least == 0 else ratio_target(variant.name, variant.mode)
    row = Row(variant, outcome, least, ratio, target, ceiling)
    if outcome.gave_up is not None:
        if least <= settings.max_wait:
            row.misses.append("gave up past --max-wait")
    elif target is not None and not ratio <= target:
        row.misses.append(f"ratio > {target:.2f}")
    if outcome.share > MAX_SHARE:
        row.misses.append(f"throttled > {MAX_SHARE:.0%}")
    row.misses += bookkeeping(outcome, settings.photos)
    return row


def seconds(elapsed: float) -> str:
    """An elapsed time for the tables: ``12.3s``, or ``gave up``."""
    return "gave up" if math.isinf(elapsed) else f"{elapsed:.1f}s"


def print_rows(rows: Sequence[Row]) -> None:
    """A line per variant."""
    print(
        f"{'policy':<8} {'variant':<26} {'Retry-After':<11} {'elapsed':>8} {'least':>7} "
        f"{'ratio':>6} {'throttled':>9} {'bans':>4} {'lost':>7}  verdict"
    )
    for row in rows:
        v, o = row.variant, row.outcome
        ratio = f"{row.ratio:6.2f}" if row.least > 0 and o.gave_up is None else "     -"
        print(
            f"{v.name:<8} {label(v.policy):<26} {v.mode:<11} {seconds(o.elapsed):>8} "
            f"{row.least:6.1f}s {ratio} {o.share:9.1%} {o.bans:4d} {o.lost:6.1f}s  {row.verdict}"
        )


def print_summary(rows: Sequence[Row]) -> int:
    """Per policy and mode: the worst ratio (of the variants not bound by the ceiling),
    its target, the worst share, the misses; returns the misses in all."""
    print(
        f"{'policy':<8} {'Retry-After':<11} {'variants':>8} {'ceiling':>7} "
        f"{'worst ratio':>11} {'target':>6} {'worst share':>11} {'misses':>6}  worst variant"
    )
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.variant.name, row.variant.mode), []).append(row)
    missed = 0
    for (name, mode), group in groups.items():
        judged = [r for r in group if not r.ceiling and r.outcome.gave_up is None and r.least > 0]
        worst = max(judged, key=lambda r: r.ratio, default=None)
        share = max(r.outcome.share for r in group)
        misses = sum(1 for r in group if r.misses)
        missed += misses
        targets = {r.target for r in judged}
        target = f"{targets.pop():.2f}" if len(targets) == 1 and None not in targets else "-"
        ratio = f"{worst.ratio:.2f}" if worst else "-"
        where = label(worst.variant.policy) if worst else ""
        ceiling = sum(1 for r in group if r.ceiling)
        print(
            f"{name:<8} {mode:<11} {len(group):8d} {ceiling:7d} {ratio:>11} {target:>6} "
            f"{share:11.1%} {misses:3d}/{len(group):<2d}  {where}"
        )
    return missed


def print_rate0(rows: Sequence[Row], settings: Settings, verbose: bool) -> int:
    """Every variant again with ``--rate 0``: its time over the default's (target
    :data:`MAX_RATE0`) and its throttled share (:data:`MAX_SHARE`), then per policy and
    mode the worst of each and the misses; returns the misses."""
    fast_settings = replace(settings, rate=None)
    groups: dict[tuple[str, str], list[tuple[Row, Outcome, float]]] = {}
    lines = []
    for row in rows:
        fast = simulate(row.variant, fast_settings)
        default = row.outcome.elapsed
        both_gave_up = math.isinf(default) and math.isinf(fast.elapsed)
        ratio = 1.0 if both_gave_up else fast.elapsed / default
        groups.setdefault((row.variant.name, row.variant.mode), []).append((row, fast, ratio))
        misses = []
        if not ratio <= MAX_RATE0:
            misses.append(f"ratio > {MAX_RATE0}")
        if fast.share > MAX_SHARE:
            misses.append(f"throttled > {MAX_SHARE:.0%}")
        misses += bookkeeping(fast, settings.photos)
        if verbose or misses:
            v = row.variant
            lines.append(
                f"{v.name:<8} {label(v.policy):<26} {v.mode:<11} {seconds(fast.elapsed):>9} "
                f"{seconds(default):>8} {ratio:6.2f} {fast.share:9.1%}  "
                + ("MISS: " + "; ".join(misses) if misses else "met")
            )
    print(
        f"\n--rate 0 against the default (--rate {settings.rate:g}): "
        f"targets <= {MAX_RATE0} and <= {MAX_SHARE:.0%} throttled"
    )
    if lines:
        print(
            f"{'policy':<8} {'variant':<26} {'Retry-After':<11} {'--rate 0':>9} "
            f"{'default':>8} {'ratio':>6} {'throttled':>9}  verdict"
        )
        print("\n".join(lines))
        print()
    print(
        f"{'policy':<8} {'Retry-After':<11} {'variants':>8} {'worst ratio':>11} "
        f"{'worst share':>11} {'misses':>6}  worst variant"
    )
    missed = 0
    for (name, mode), group in groups.items():
        row, _, worst = max(group, key=lambda item: item[2])
        share = max(fast.share for _, fast, _ in group)
        count = sum(
            1 for _, fast, ratio in group if not ratio <= MAX_RATE0 or fast.share > MAX_SHARE
        )
        missed += count
        print(
            f"{name:<8} {mode:<11} {len(group):8d} {worst:11.2f} {share:11.1%} "
            f"{count:3d}/{len(group):<2d}  {label(row.variant.policy)}"
        )
    return missed


def trace(name: str, policy: Policy, modes: Sequence[RetryAfterMode], settings: Settings) -> None:
    """Run one policy in each mode, printing every throttle and what the limiter made of it."""

    def tracer(
        now: float,
        response: Response,
        parsed: float | None,
        ticket: Ticket,
        verdict: Verdict,
        lim: AdaptiveLimiter,
    ) -> None:
        header = response.headers.get("Retry-After")
        flags = " ".join(
            word
            for word, on in (("told", verdict.told), ("new", verdict.new), ("long", verdict.long))
            if on
        )
        print(
            f"  t={now:8.3f} {response.status} Retry-After {header!r:31} = {parsed!s:5.5} "
            f"start={ticket.start:8.3f} slot={ticket.slot:<3d} probe={ticket.probe!s:5} "
            f"-> wait {verdict.wait:6.2f} {flags:<13} rate {lim.rate:6.2f} cap {lim.cap:6.2f} "
            f"window {lim.window}"
        )

    for mode in modes:
        print(f"# {policy}, Retry-After {mode}")
        outcome = simulate(Variant(name, policy, mode), settings, tracer)
        least = least_time(policy, settings.photos)
        ratio = outcome.elapsed / least if least > 0 else math.nan
        print(
            f"elapsed {outcome.elapsed:.2f} s, least {least:.2f} s, ratio {ratio:.3f}, "
            f"throttled {outcome.throttled}/{outcome.requests} ({outcome.share:.1%}), "
            f"bans {outcome.bans}, lost {outcome.lost:.1f} s, rate {outcome.rate:.2f}/s"
            + (f", gave up: {outcome.gave_up}" if outcome.gave_up else "")
        )
        for problem in bookkeeping(outcome, settings.photos):
            print(f"BOOKKEEPING: {problem}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweep (or a trace); 1 if a target was missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=300, help="requests per variant")
    parser.add_argument("--policies", default=",".join(NAMES), help=f"of {', '.join(NAMES)}")
    parser.add_argument("--modes", default=",".join(MODES), help=f"of {', '.join(MODES)}")
    parser.add_argument("--workers", "-j", type=int, default=8, help="files fetched at once")
    parser.add_argument(
        "--rate", type=float, default=DEFAULT_RATE, help="the ceiling, requests/s (0: none)"
    )
    parser.add_argument("--max-wait", type=float, default=DEFAULT_MAX_WAIT, help="seconds")
    parser.add_argument("--latency", type=float, default=0.004, help="seconds per request")
    parser.add_argument("--jitter", type=float, default=0.002, help="seconds, seeded")
    parser.add_argument("--seed", type=int, default=1, help="the jitter's seed")
    parser.add_argument("--rate0", action="store_true", help="compare with --rate 0")
    parser.add_argument("--summary-only", action="store_true", help="no row per variant")
    parser.add_argument("--trace", metavar="POLICY", help='e.g. "fixed(100, 10)"')
    args = parser.parse_args(argv)
    names = [n for n in args.policies.split(",") if n]
    modes: list[RetryAfterMode] = [m for m in args.modes.split(",") if m]
    unknown = set(names) - set(NAMES) | set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown policies or modes: {', '.join(sorted(unknown))}")
    settings = Settings(
        photos=args.photos,
        workers=max(1, args.workers),
        rate=args.rate if args.rate > 0 else None,
        max_wait=args.max_wait,
        latency=args.latency,
        jitter=args.jitter,
        seed=args.seed,
    )
    if args.trace:
        try:
            name, policy = parse_policy(args.trace)
        except ValueError as exc:
            parser.error(str(exc))
        trace(name, policy, modes, settings)
        return 0
    started = time.monotonic()
    rows = [
        judge(variant, simulate(variant, settings), settings)
        for name, policy in sweep(names)
        for variant in (Variant(name, policy, mode) for mode in modes)
    ]
    ceiling = f"--rate {settings.rate:g}" if settings.rate else "--rate 0"
    print(
        f"# virtual time: {settings.photos} photos, -j {settings.workers}, {ceiling}, "
        f"latency {settings.latency * 1000:g} ms + up to {settings.jitter * 1000:g} ms "
        f"(seed {settings.seed}); {len(rows)} variants in {time.monotonic() - started:.1f} s"
    )
    if not args.summary_only:
        print_rows(rows)
        print()
    missed = print_summary(rows)
    if args.rate0:
        missed += print_rate0(rows, settings, verbose=not args.summary_only)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
