"""Run an emulator on a background thread, for callers that block (CLI tests, benchmarks)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .app import Emulator
from .knobs import EmulatorConfig

__all__ = ["emulator_in_thread"]


@contextmanager
def emulator_in_thread(config: EmulatorConfig | None = None) -> Iterator[Emulator]:
    """Start an :class:`Emulator` on 127.0.0.1, port 0, in its own thread and event loop.

    Yields the running emulator; its counters may be read from the calling thread.
    """
    loop = asyncio.new_event_loop()
    emulator = Emulator(config)
    ready = threading.Event()
    stop = asyncio.Event()
    errors: list[BaseException] = []

    async def serve() -> None:
        try:
            await emulator.start()
        except BaseException as exc:  # reported to the caller below
            errors.append(exc)
            ready.set()
            return
        ready.set()
        try:
            await stop.wait()
        finally:
            await emulator.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    ready.wait()
    if errors:
        raise errors[0]
    try:
        yield emulator
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join()
        loop.close()
