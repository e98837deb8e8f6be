"""Shared plumbing of the benchmark scripts (not a script itself).

- :func:`emulator_process` runs ``python -m aura_async.emulator`` as a separate process on
  127.0.0.1, port 0, so the server's CPU is never charged to the client being measured;
- :func:`list_jobs` logs in and reads the frame's listing over loopback, and plans it with
  the package's own pure planner, so every peer fetches exactly the URLs ``aura-async`` does;
- :func:`measure` runs one client process and returns its wall time, CPU time (user + sys
  of that process and its children, from ``os.wait4``) and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

from aura_async.api.parse import parse_asset_page, parse_login
from aura_async.plan.planner import Job, Planner
from aura_async.plan.selection import Selection

__all__ = [
    "BARE",
    "BARE_CLIENT",
    "EmulatorInfo",
    "Sample",
    "aura_async_command",
    "emulator_process",
    "list_jobs",
    "machine_line",
    "measure",
    "median",
    "other_install",
    "process_cpu",
    "write_config",
]

BARE = "bare-aiohttp"
"""The baseline peer's name: :mod:`benchmarks.bare_client`, a plain aiohttp client."""
BARE_CLIENT = Path(__file__).with_name("bare_client.py")

_MAX_CONFIG_LINES = 100
_MAX_PAGES = 10_000


@dataclass(frozen=True)
class EmulatorInfo:
    """How to reach an emulator started by :func:`emulator_process`."""

    api_url: str
    image_url: str
    email: str
    password: str
    frame_id: str
    pid: int
    exit_status: Callable[[], str | None]
    """``None`` while the emulator runs; else how it ended and the tail of its stderr."""


@dataclass(frozen=True)
class Sample:
    """One measured client run."""

    wall: float
    cpu: float
    maxrss_kb: int
    returncode: int
    stderr: str = ""

    @property
    def maxrss_mb(self) -> float:
        """Peak resident set size in MB (10**6 bytes)."""
        return self.maxrss_kb * 1024 / 1e6


def _parse_config(stream: IO[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for _ in range(_MAX_CONFIG_LINES):
        line = stream.readline()
        if not line:
            break
        key, sep, value = line.partition(" = ")
        if sep and key.strip() not in values:
            values[key.strip()] = value.strip()
        if "file_path" in values:
            return values
    raise RuntimeError(f"the emulator printed no usable config: {values}")


@contextmanager
def emulator_process(args: Sequence[str]) -> Iterator[EmulatorInfo]:
    """Run ``python -m aura_async.emulator ARGS`` on 127.0.0.1, port 0, until the block ends.

    Throttling is off unless ``args`` switch it on; the first frame is the one served.
    A SIGTERM (``kill``, a CI timeout) ends the block like Ctrl-C does, so the emulator is
    stopped rather than left running (call it from the main thread).
    """
    command = [sys.executable, "-m", "aura_async.emulator", "--host", "127.0.0.1", "--port", "0"]
    with tempfile.TemporaryFile() as errors, _exit_on_sigterm():
        proc = subprocess.Popen([*command, *args], stdout=subprocess.PIPE, stderr=errors, text=True)

        def exit_status() -> str | None:
            code = proc.poll()
            if code is None:
                return None
            errors.seek(0)
            tail = errors.read()[-2000:].decode(errors="replace")
            return f"the emulator process exited with code {code} (killed from outside?)\n{tail}"

        try:
            assert proc.stdout is not None
            values = _parse_config(proc.stdout)
            yield EmulatorInfo(
                api_url=values["api_url"],
                image_url=values["image_url"],
                email=values["email"],
                password=values["password"],
                frame_id=values["frame_id"],
                pid=proc.pid,
                exit_status=exit_status,
            )
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


@contextmanager
def _exit_on_sigterm() -> Iterator[None]:
    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _request(url: str, headers: dict[str, str], body: bytes | None = None) -> Any:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"benchmarks talk to loopback only, not {url}")
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def list_jobs(info: EmulatorInfo, *, stills: bool = True, clips: bool = True) -> list[Job]:
    """Log in, read every listing page, and plan it into jobs (relative path + URL)."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    login = {"user": {"email": info.email, "password": info.password}}
    user_id, token = parse_login(
        _request(f"{info.api_url}/login.json", headers, json.dumps(login).encode())
    )
    auth = {**headers, "X-User-Id": user_id, "X-Token-Auth": token}
    assets = []
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        query = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        url = f"{info.api_url}/frames/{info.frame_id}/assets.json?{urlencode(query)}"
        page = parse_asset_page(_request(url, auth))
        assets.extend(page.assets)
        cursor = page.next_cursor
        if not cursor or not page.assets:
            break
    planner = Planner(image_base=info.image_url, selection=Selection(stills=stills, clips=clips))
    for asset in assets:
        planner.add(asset)
    return planner.plan.jobs


def page_seconds(info: EmulatorInfo, page_size: int = 500) -> float:
    """Seconds the server takes to answer one listing page of ``page_size`` (the login
    before it is not counted): the unit of a slow listing."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    login = {"user": {"email": info.email, "password": info.password}}
    user_id, token = parse_login(
        _request(f"{info.api_url}/login.json", headers, json.dumps(login).encode())
    )
    auth = {**headers, "X-User-Id": user_id, "X-Token-Auth": token}
    url = f"{info.api_url}/frames/{info.frame_id}/assets.json?limit={page_size}"
    started = time.perf_counter()
    _request(url, auth)
    return time.perf_counter() - started


def write_config(info: EmulatorInfo, path: Path, folder: Path) -> Path:
    """Write an ``aura-async`` config whose ``[myframe]`` saves into ``folder``."""
    path.write_text(
        "[login]\n"
        f"email = {info.email}\npassword = {info.password}\n"
        f"api_url = {info.api_url}\nimage_url = {info.image_url}\n\n"
        f"[myframe]\nframe_id = {info.frame_id}\nfile_path = {folder}\n",
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def aura_async_command() -> str | None:
    """The ``aura-async`` beside this interpreter (the venv's), else the one on PATH; a
    line says so when it runs another ``aura_async`` than this checkout's (a venv's editable
    install of another checkout would be measured silently)."""
    beside = Path(sys.executable).with_name("aura-async")
    command = str(beside) if beside.exists() else shutil.which("aura-async")
    if command is not None:
        warning = other_install(command, Path(__file__).resolve().parents[1] / "aura_async")
        if warning:
            print(f"# {warning}")
    return command


def other_install(command: str, ours: Path) -> str | None:
    """What is wrong when ``command`` (an ``aura-async``) runs another package than
    ``ours``, from what its ``--version`` says (``... from PATH (Python ...)``); ``None``
    when it runs ours."""
    try:
        said = subprocess.run(
            [command, "--version"], capture_output=True, text=True, timeout=60, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"warning: {command} --version failed: {exc}"
    _, found, rest = said.partition(" from ")
    theirs = Path(rest.rsplit(" (Python", 1)[0].strip()) if found else None
    if theirs is not None and theirs.resolve() == ours.resolve():
        return None
    return (
        f"warning: {command} runs {theirs or 'an aura-async that does not say where'}, not "
        f"this checkout's {ours}: unless that was installed from this checkout as it is, "
        "these figures are not its (pip install -e . to measure it)"
    )


def measure(command: Sequence[str], *, cwd: Path | None = None) -> Sample:
    """Run ``command`` to its end; time it and read its resource usage from ``wait4``.

    ``ru_utime``/``ru_stime``/``ru_maxrss`` of ``wait4`` cover that process and the children
    it waited for, nothing else of this machine (the emulator runs in its own process).
    """
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(command),
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            stderr=errors,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        stderr = errors.read(4000).decode(errors="replace")
    cpu = usage.ru_utime + usage.ru_stime
    return Sample(wall, cpu, usage.ru_maxrss, proc.returncode, stderr)


def process_cpu(pid: int) -> float:
    """User + sys seconds used so far by a running process (Linux ``/proc``; else NaN)."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return float("nan")
    fields = stat.read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(values: Sequence[float]) -> float:
    """The median (NaN for no values)."""
    return statistics.median(values) if values else float("nan")


def add_workdir(parser: argparse.ArgumentParser) -> None:
    """The ``--workdir`` option every benchmark that writes files shares."""
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where run folders go (default: the system temp dir; /dev/shm keeps disk "
        "writeback out of the figures)",
    )


def machine_line() -> str:
    """CPU model, cores, Python version and date: the header of every report."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )
