"""Logging helpers that keep personal data out of logs.

A library's exception message may quote the text it was given (a transcript line, a name), so an
unexpected exception is logged by its type and where it was raised, never by its message.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path


def where_raised(exc: BaseException, depth: int = 8) -> str:
    """``file:line function`` of the innermost frames, innermost first."""
    frames = traceback.extract_tb(exc.__traceback__)[-depth:]
    return " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))


def log_failure(log: logging.Logger, message: str, *args: object, exc: BaseException) -> None:
    """Log an unexpected failure: the message, the exception's type and its frames, not its text."""
    log.error(message + " (%s at %s)", *args, type(exc).__name__, where_raised(exc))
