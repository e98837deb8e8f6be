"""The public API is exactly ``aura_async.__all__``."""

from __future__ import annotations

import aura_async


def test_all_names_exist_and_are_public() -> None:
    """Every name in __all__ exists; every public attribute is listed or a submodule."""
    for name in aura_async.__all__:
        assert hasattr(aura_async, name), name
    public = {n for n in dir(aura_async) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(aura_async, n)).__name__ == "module"}
    assert public - modules == set(aura_async.__all__) - {"__version__"}
