"""What starting ``aura-async`` costs, side by side: this build against a peer build, and
shell completion against none.

    python -m benchmarks.startup --runs 15 [--peer /path/to/other/bin/aura-async]

Each round runs, alternated, ``--version``, ``--help`` and a no-op nightly run (a frame
of 300 photos already downloaded, ``--quiet``, no terminal) with this build's
``aura-async`` and, with ``--peer``, another build's (an older checkout's venv); it prints
the medians and the medians of per-round ratios. Then, in this process, it builds the
command (what every start does before parsing) with and without Typer's completion
options, alternated, and prints that ratio: completion must cost start-up time only when
it is used.

Compare builds installed alike: the same interpreter, each in a venv of its own with the
same packages (a venv with the test extras too started about 30 ms slower here, whatever
the build).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import typer
import typer.main

from benchmarks.common import (
    aura_async_command,
    emulator_process,
    machine_line,
    measure,
    median,
    write_config,
)


def _builder(add_completion: bool, builds: int = 50) -> Callable[[], float]:
    """Times building the ``aura-async`` command ``builds`` times, with or without the
    completion options (the same callback, options and command class)."""
    from aura_async.cli.command import command
    from aura_async.cli.help import AuraCommand

    app = typer.Typer(add_completion=add_completion, rich_markup_mode=None)
    app.command(cls=AuraCommand)(command)

    def build() -> float:
        started = time.perf_counter()
        for _ in range(builds):
            typer.main.get_command(app)
        return (time.perf_counter() - started) / builds

    return build


def _alternate(runs: int, measures: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in measures}
    for round_ in range(runs):
        order = list(measures) if round_ % 2 == 0 else list(reversed(measures))
        for name in order:
            times[name].append(measures[name]())
    return times


def main() -> None:
    """Run the benchmark and print its report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="rounds (default 15)")
    parser.add_argument("--peer", type=Path, default=None, help="another build's aura-async")
    args = parser.parse_args()
    ours = aura_async_command()
    assert ours is not None, "aura-async is not installed beside this Python"
    builds = {"this": ours, **({"peer": str(args.peer)} if args.peer else {})}
    print(machine_line())
    with (
        tempfile.TemporaryDirectory() as tmp,
        emulator_process(
            ["--photos", "300", "--videos", "0", "--live-photos", "0", "--photo-size", "2048"]
        ) as info,
    ):
        folders = {}
        for name, exe in builds.items():
            folder = Path(tmp) / name
            config = write_config(info, Path(tmp) / f"{name}.ini", folder / "photos")
            first = measure([exe, "--config", str(config), "myframe", "--rate", "0", "-q"])
            assert first.returncode == 0, first.stderr
            folders[name] = config
        commands: dict[str, Callable[[str, Path], list[str]]] = {
            "--version": lambda exe, cfg: [exe, "--version"],
            "--help": lambda exe, cfg: [exe, "--help"],
            "no-op run": lambda exe, cfg: [exe, "--config", str(cfg), "myframe", "-q"],
        }
        print(f"{'command':<12} " + "  ".join(f"{name:>10}" for name in builds) + "   ratio")
        for label, make in commands.items():
            measures: dict[str, Callable[[], float]] = {}
            for name, exe in builds.items():
                argv = make(exe, folders[name])

                def run(argv: list[str] = argv) -> float:
                    sample = measure(argv)
                    assert sample.returncode == 0, sample.stderr
                    return sample.wall

                measures[name] = run
            times = _alternate(args.runs, measures)
            line = f"{label:<12} " + "  ".join(
                f"{median(times[name]) * 1000:>8.1f}ms" for name in builds
            )
            if "peer" in times:
                ratios = [a / b for a, b in zip(times["this"], times["peer"], strict=True)]
                line += f"   {statistics.median(ratios):.3f} this/peer"
            print(line)
    completion = _alternate(
        args.runs * 4, {"with": _builder(add_completion=True), "without": _builder(False)}
    )
    ratios = [a / b for a, b in zip(completion["with"], completion["without"], strict=True)]
    extra = (median(completion["with"]) - median(completion["without"])) * 1e3
    print(
        f"building the command with completion options / without: "
        f"{statistics.median(ratios):.3f} ({extra:+.3f} ms of "
        f"{median(completion['without']) * 1e3:.1f} ms per start)"
    )


if __name__ == "__main__":
    main()
