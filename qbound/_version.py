"""The installed version of qbound, for every layer (the application re-exports it as qbound.app.cli.version)."""
from __future__ import annotations


def version() -> str:
    try:
        from importlib.metadata import version as _v
        return _v("qbound")
    except Exception:  # running from a source tree without installation
        return "0+unknown"
