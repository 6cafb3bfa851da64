"""Logs: one JSON object per line in production, a readable line in development.

Every line has the same fields, whoever wrote it: a UTC ISO 8601
`timestamp`, `level`, `logger`, `event`, and what the request bound
(api.middleware: `request_id`; `user_id` once it is known). LOG_FORMAT picks
the renderer: `json` (the default with DEBUG off) or `console` (with DEBUG
on, `make run`). Two paths lead there:

- Our events (`structlog.get_logger(__name__).info("chat.completed", ...)`)
  go straight from structlog to stdout: a request logs at least one, and
  the standard library's machinery (a LogRecord, a handler, a formatter
  that copies the record) would cost three to four times as much CPU.
- Everyone else's lines (Django's, gunicorn's, uvicorn's, a library's,
  Python's warnings) go through the standard library, whose handler renders
  them with the same processors (structlog's ProcessorFormatter).

Both write whole lines to the current sys.stdout under one lock, so lines
never interleave and a test's capture sees them in order.

Nothing secret goes in: events name ids, counts and codes, never a token, a
password or a message's text (tests/api/test_logs.py scans for them).
"""

import logging
import logging.config
import sys
import threading
from typing import Any

import structlog
from structlog.typing import EventDict, Processor

FORMATS = ("json", "console")
_LOCK = threading.RLock()


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """The standard library's configuration: every record to stdout, rendered."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structlog": {"()": formatter, "log_format": log_format}},
        "handlers": {"console": {"()": StdoutHandler, "formatter": "structlog"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # The OpenAI SDK's HTTP client logs every request it makes at
            # INFO: a second access log, one line per chat.
            "httpx2": {"level": "WARNING"},
            # Listed so that Django's default handlers (stderr, mail) go:
            # its records reach the root's like any other.
            "django": {"level": "INFO"},
            # Django's own request log repeats our `request` line for 4xx/5xx;
            # runserver's repeats it for every request.
            "django.request": {"level": "ERROR"},
            "django.server": {"level": "WARNING"},
        },
    }


def configure(options: dict[str, str]) -> None:
    """LOGGING_CONFIG, called by Django with LOGGING (`log_format`, `level`)."""
    logging.config.dictConfig(logging_config(**options))
    # Python's warnings as log lines too, not bare text on stderr.
    logging.captureWarnings(True)
    structlog.configure(
        processors=[*_shared_processors(), *_renderers(options["log_format"])],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[options["level"].upper()]
        ),
        logger_factory=StdoutLogger,
        cache_logger_on_first_use=True,
    )


def formatter(log_format: str) -> logging.Formatter:
    """Renders any standard library record as `log_format` says (json or console)."""
    return structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_renderers(log_format),
        ],
        foreign_pre_chain=_shared_processors(),
    )


class StdoutLogger:
    """Where structlog writes our events: the current sys.stdout, a line at a time."""

    def __init__(self, name: str = "app", *args: Any) -> None:
        # What structlog.stdlib.add_logger_name reads as the `logger` field.
        self.name = name

    def msg(self, message: str) -> None:
        with _LOCK:
            stream = sys.stdout
            stream.write(message + "\n")
            stream.flush()

    debug = info = warning = error = critical = exception = msg


class StdoutHandler(logging.StreamHandler):
    """The standard library's records to the current sys.stdout, under the same lock."""

    def createLock(self) -> None:
        self.lock = _LOCK  # type: ignore[assignment]

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # always the current sys.stdout


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _renderers(log_format: str) -> list[Processor]:
    if log_format == "console":
        # It draws tracebacks itself.
        return [structlog.dev.ConsoleRenderer()]
    # A traceback as one string field of the line.
    return [
        structlog.processors.format_exc_info,
        _leading_fields,
        structlog.processors.JSONRenderer(),
    ]


_LEADING = ("timestamp", "level", "logger", "event")


def _leading_fields(logger: Any, name: str, event: EventDict) -> EventDict:
    # A person reading a line finds when, how bad and what first.
    return {
        **{key: event[key] for key in _LEADING if key in event},
        **{key: value for key, value in event.items() if key not in _LEADING},
    }
