"""``python -m aura_async``: the same as the ``aura-async`` command."""

from .cli import main

main()
