"""The REST API face (`mh serve`): FastAPI routes over metahuman_core, safe by default.

Importing this package is cheap; FastAPI is imported only when an app is built, so `mh --help`
never loads it. Build an app with `create_api(profile)` (see app.py for the options).
"""

from __future__ import annotations


def create_api(profile, **options):
    """Lazy shim for `metahuman_tui.http.app.create_api`."""
    from .app import create_api as _create

    return _create(profile, **options)


__all__ = ["create_api"]
