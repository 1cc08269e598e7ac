"""Errors the CLI turns into one clear line and exit code 2 (never a traceback)."""

from __future__ import annotations


class HarnessError(Exception):
    """Something the user must fix or know about; the message is shown as is."""


class BadInput(HarnessError):
    """Input files, flags or schemas the harness cannot use."""


class DatabaseUnavailable(HarnessError):
    """The database server cannot be reached or started."""
