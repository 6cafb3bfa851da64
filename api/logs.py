"""Logs: one JSON object per line in production, a readable line in development.

structlog renders every record, ours (`structlog.get_logger`) and the
standard library's (Django's, gunicorn's, `logging.getLogger`) alike, with
the same fields: a UTC ISO 8601 `timestamp`, `level`, `logger`, `event`,
and what the request bound (api.middleware: `request_id`; `user_id` once it
is known). LOG_FORMAT picks the renderer: `json` (the default with DEBUG off)
or `console` (with DEBUG on, `make run`).

Nothing secret goes in: events name ids, counts and codes, never a token, a
password or a message's text (tests/api/test_logs.py scans for them).
"""

import logging
import logging.config
from typing import Any

import structlog
from structlog.typing import EventDict, Processor

FORMATS = ("json", "console")


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """Django's LOGGING: every record to stdout through structlog's renderer."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structlog": {"()": formatter, "log_format": log_format}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "structlog",
            }
        },
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


def formatter(log_format: str) -> logging.Formatter:
    """Renders any standard library record as `log_format` says (json or console)."""
    return structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_renderers(log_format),
        ],
        foreign_pre_chain=_shared_processors(),
    )


def configure(options: dict[str, str]) -> None:
    """LOGGING_CONFIG, called by Django with LOGGING (`log_format`, `level`)."""
    logging.config.dictConfig(logging_config(**options))
    # Python's warnings as log lines too, not bare text on stderr.
    logging.captureWarnings(True)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
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
