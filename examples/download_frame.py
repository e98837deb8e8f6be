"""Use aura-async as a library: download one frame and print its summary.

Run: python examples/download_frame.py myframe
"""

from __future__ import annotations

import asyncio
import os
import sys

from aura_async import default_config_path, load_settings, run_frames


def main() -> int:
    """Download the frames named on the command line."""
    settings = load_settings(default_config_path(os.environ), os.environ)
    reports = asyncio.run(run_frames(settings, sys.argv[1:] or settings.frame_names))
    for report in reports:
        print(report.summary_line())
    return 1 if any(r.failed for r in reports) else 0


if __name__ == "__main__":
    raise SystemExit(main())
