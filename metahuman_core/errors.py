"""Exceptions with messages a person can act on; each carries the CLI exit code it maps to."""

from __future__ import annotations


class MHError(Exception):
    """Base error. `exit_code` follows the CLI contract: 1 failure, 2 usage/validation."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class NotInitialised(MHError):
    def __init__(self, home):
        super().__init__(f"{home}: not initialised: run mh init", hint=f"mh init {home}")


class ConfigError(MHError):
    """A config or persona file is invalid; names the file and the field."""

    exit_code = 2


class ValidationFailed(MHError):
    """Bad input from the caller (argument, id, value)."""

    exit_code = 2


class NotFound(MHError):
    pass


class CorruptFile(MHError):
    """A JSON file on disk could not be parsed. Reported, never crashes a listing."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: corrupt JSON: {reason}")
        self.path = path
        self.reason = reason


class AlreadyRunning(MHError):
    pass
