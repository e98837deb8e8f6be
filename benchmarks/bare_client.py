"""A plain aiohttp client doing much less than aura-async: the benchmarks' baseline.

It starts Python, imports aiohttp, and fetches ``URL<TAB>PATH`` lines from a list file with
``--concurrency`` requests at a time; each body is read whole into memory, hashed with
SHA-256 (the checksum aura-async's state keeps) and written straight to its final name on
the event loop's thread. No ``.part`` and rename, no resume, no retry, no rate limiter, no
state database, no progress: so it is *not* a safe downloader, only a yardstick. Its ratio
to curl, measured in the same run, shows what a plain Python client on aiohttp costs on
that machine; aura-async's ratio to it is what aura-async itself adds.

Usage (the benchmarks run it; by hand)::

    python -m benchmarks.bare_client LIST --concurrency 8
    python -m benchmarks.bare_client LIST --stream   # big files: chunked, hashed as written
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys

import aiohttp

_STREAM_CHUNK = 1024 * 1024


async def _fetch_all(pairs: list[tuple[str, str]], concurrency: int, stream: bool) -> None:
    todo = iter(pairs)
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            for url, path in todo:
                async with session.get(url) as response:
                    response.raise_for_status()
                    digest = hashlib.sha256()
                    with open(path, "wb") as out:  # noqa: ASYNC230 - on the loop, on purpose
                        if stream:
                            async for chunk in response.content.iter_chunked(_STREAM_CHUNK):
                                out.write(chunk)
                                digest.update(chunk)
                        else:
                            body = await response.read()
                            out.write(body)
                            digest.update(body)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def main(argv: list[str] | None = None) -> int:
    """Fetch every line of the list; exit 1 on the first failure."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("list", help="file of URL<TAB>PATH lines")
    p.add_argument("--concurrency", "-j", type=int, default=8)
    p.add_argument("--stream", action="store_true", help="stream bodies in 1 MiB chunks")
    args = p.parse_args(argv)
    pairs = []
    with open(args.list, encoding="utf-8") as lines:
        for line in lines:
            url, _, path = line.rstrip("\n").partition("\t")
            pairs.append((url, path))
    try:
        asyncio.run(_fetch_all(pairs, args.concurrency, args.stream))
    except (aiohttp.ClientError, OSError) as exc:
        print(f"bare_client: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
