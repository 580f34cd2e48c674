"""Registry of ``scikinC`` subcommands (``scikinC validate`` ...).

Kept apart from :mod:`scikinc.cli` so that modules imported by ``scikinc``
itself can register a subcommand without importing the CLI (which would make
``python -m scikinc.cli`` warn that the module was imported twice)."""
from __future__ import annotations

from collections.abc import Callable

SUBCOMMANDS: dict[str, Callable] = {}


def subcommand(name: str):
    """Decorator: register ``fn(argv) -> int`` as ``scikinC NAME``."""
    def deco(fn):
        SUBCOMMANDS[name] = fn
        return fn

    return deco
