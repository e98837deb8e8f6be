"""``python -m aura_async``: the same as the ``aura-async`` command."""

from aura_async.cli import main

main()
