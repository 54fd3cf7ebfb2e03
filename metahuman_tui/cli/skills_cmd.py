"""Placeholder: this command group is being built (see the open issues)."""

import typer


def register(app: typer.Typer) -> None:
    return None
