"""Shared fixtures: a clean environment, the emulator on port 0, settings pointing at it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from aura_async.config import Settings
from aura_async.emulator import Emulator, EmulatorConfig, FrameSpec
from aura_async.emulator.thread import emulator_in_thread
from aura_async.seams import Disk, DiskPace, File, Mode

from .lossyfs import LossyMount, unavailable


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AURA_* variable of the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("AURA_"):
            monkeypatch.delenv(key)


async def no_wait(seconds: float) -> None:
    """An injected sleep (``Seams(sleep=no_wait)``): retry waits pass at once."""
    await asyncio.sleep(0)


def small_config(**overrides: object) -> EmulatorConfig:
    """A quick emulator: a few photos, videos, Live Photos, placeholders and hidden ones."""
    values: dict[str, object] = {
        "frames": [FrameSpec(photos=30, videos=2, live_photos=2, placeholders=2, hidden=1)],
        "photo_size": 8 * 1024,
        "video_size": 40 * 1024,
    }
    values.update(overrides)
    return EmulatorConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """The emulator's configuration; override this fixture to change it."""
    return small_config()


@pytest.fixture
async def emulator(emulator_config: EmulatorConfig) -> AsyncIterator[Emulator]:
    """The emulator, serving in the test's event loop."""
    async with Emulator(emulator_config) as emu:
        yield emu


@pytest.fixture
def threaded_emulator(emulator_config: EmulatorConfig) -> Iterator[Emulator]:
    """The emulator on its own thread, for tests that block (CLI, subprocesses)."""
    with emulator_in_thread(emulator_config) as emu:
        yield emu


def first_frame_id(emu: Emulator) -> str:
    """The id of the emulator's first frame."""
    return next(iter(emu.library.frames))


def settings_for(emu: Emulator, folder: Path, name: str = "myframe") -> Settings:
    """Settings with one frame section pointing at the emulator's first frame."""
    return Settings(
        email=emu.config.email,
        password=emu.config.password,
        api_url=emu.api_url,
        image_url=emu.image_url,
        config_path=folder / "credentials.ini",
        frame_sections={name: {"frame_id": first_frame_id(emu), "file_path": str(folder / name)}},
    )


def write_config(emu: Emulator, folder: Path) -> Path:
    """Write the emulator's ready config (frames under ``folder``), mode 600."""
    path = folder / "credentials.ini"
    path.write_text(emu.config_text(str(folder / "photos")), encoding="utf-8")
    path.chmod(0o600)
    return path


class PaceClock:
    """A :class:`DiskPace` clock that moves only when a test says a step took time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def stall(self) -> None:
        """Make the step under way look slower than :attr:`DiskPace.LIMIT`."""
        self.now += 2 * DiskPace.LIMIT


class FullFile:
    """A file whose every write fails as on a full disk (ENOSPC); reads and close pass."""

    def __init__(self, real: File) -> None:
        self.real = real

    def read(self, size: int = -1, /) -> bytes:
        return self.real.read(size)

    def write(self, data: bytes, /) -> int:
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        self.real.close()


class FullDisk(Disk):
    """A disk that opens files, then refuses every write to them (disk full)."""

    def open(self, path: Path, mode: Mode) -> File:
        return FullFile(super().open(path, mode))


LossyFactory = Callable[..., LossyMount]


@pytest.fixture
def lossy(tmp_path: Path) -> Iterator[LossyFactory]:
    """Mount lossy filesystems (``lossy("name", journal_interval=...)``) under ``tmp_path``;
    each is unmounted after the test, and a model error in a server's log fails it.

    Skipped where FUSE is missing, except under CI (``CI=true``), where it must run."""
    reason = unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the power-cut tests must run in CI: {reason}")
        pytest.skip(reason)
    made: list[LossyMount] = []

    def make(name: str = "fs", *, journal_interval: float | None = None) -> LossyMount:
        fs = LossyMount(
            tmp_path / f"{name}.store", tmp_path / name, journal_interval=journal_interval
        )
        made.append(fs)
        fs.mount()
        return fs

    try:
        yield make
    finally:
        for fs in made:
            fs.close()
    broken = [fs.log_text() for fs in made if fs.errors()]
    assert not broken, "lossyfs failed inside:\n" + "\n".join(broken)


class FakeTime:
    """Monotonic and wall clocks that move only when a run sleeps (Seams.sleep, clock and
    wallclock; the emulator's clock and wallclock): throttle waits cost no real time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def wallclock(self) -> float:
        return 1_700_000_000.0 + self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)
