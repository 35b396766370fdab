"""Logging for every octogate process: a level and a format (`text` or `json`), one line per event.

Why our own formatters: an operator's log pipeline splits on newlines, so a record never spans two lines (a
traceback is folded into the line, escaped); `json` gives one object per line with fixed field names (`ts`,
`level`, `logger`, `msg`, `pid`, `process`, and `exc` when there is one). Messages are bounded: a value a
user or a peer sent can make a line long, never endless. Secrets and message texts are kept out at the call
sites (they are never passed to a logger).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")
MAX_MESSAGE = 2000  # characters of one log message at most
MAX_EXCEPTION = 4000
#: which process wrote a line (serve's API process, its delivery child, the simulator, a command)
PROCESS_NAME = {"name": "octogate"}


class LogSettingsError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "info"
    format: str = "text"

    @classmethod
    def resolve(cls, level: str | None, fmt: str | None, environ: dict[str, str] | None = None) -> LogSettings:
        """Command-line option, else OCTOGATE_LOG_LEVEL / OCTOGATE_LOG_FORMAT, else info / text."""
        env = os.environ if environ is None else environ
        level = (level or env.get("OCTOGATE_LOG_LEVEL") or "info").strip().lower()
        fmt = (fmt or env.get("OCTOGATE_LOG_FORMAT") or "text").strip().lower()
        if level not in LEVELS:
            raise LogSettingsError(f"log level is one of {', '.join(LEVELS)}, not {level[:40]!r}")
        if fmt not in FORMATS:
            raise LogSettingsError(f"log format is text or json, not {fmt[:40]!r}")
        return cls(level, fmt)


def bounded(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[:limit] + f"…(+{len(text) - limit})"


def _exception(record: logging.LogRecord, formatter: logging.Formatter) -> str | None:
    if record.exc_info:
        return bounded(formatter.formatException(record.exc_info), MAX_EXCEPTION)
    return None


class TextFormatter(logging.Formatter):
    """`2026-12-03T06:40:00.123Z INFO octogate.binds: message`: newlines escaped, one event per line."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        line = f"{stamp} {record.levelname} {record.name}: {bounded(record.getMessage())}"
        exc = _exception(record, self)
        if exc:
            line += " | " + exc
        return line.replace("\r", "\\r").replace("\n", "\\n")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": bounded(record.getMessage()),
            "process": PROCESS_NAME["name"],
            "pid": record.process,
        }
        exc = _exception(record, self)
        if exc:
            entry["exc"] = exc
        return json.dumps(entry, ensure_ascii=False)


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (a test harness may have replaced it since)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def setup_logging(settings: LogSettings, process: str = "octogate") -> None:
    """Replace whatever handlers the root logger had: one stderr handler with the chosen format."""
    PROCESS_NAME["name"] = process
    handler = _Stderr()
    handler.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level.upper())
    # Libraries that are chatty at INFO (or that write what they received at DEBUG) stay at WARNING.
    for name in ("mail.log", "aiosmtpd", "asyncio", "httpx", "httpcore", "aiohttp.access", "uvicorn.access"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        # its start and stop lines repeat ours; its warnings (bad requests) stay
        logger.setLevel(root.level if root.level <= logging.DEBUG else logging.WARNING)
