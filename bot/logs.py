"""Logging for operators: readable text by default, or (`LOG_FORMAT=json`) one JSON object a line with
time, level, logger, message and, where a line is about one, the ticket, ping, Slack method and
request id. Secrets never reach a log line: the bot token, app token and signing secret (and anything
shaped like a Slack token) are masked in every record."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from bot.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SLACK_TOKEN = re.compile(r"xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+")
CONTEXT_FIELDS = ("ticket", "ping", "slack_method", "request_id")
MASK = "[redacted]"


# The HTTP request a line is logged within (bot/server.py sets it; work after the ack runs elsewhere).
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


class RedactSecrets(logging.Filter):
    """Masks the configured secrets and token-shaped text in a record's message, once formatted."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 8]

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        message = record.getMessage()
        cleaned = SLACK_TOKEN.sub(MASK, message)
        for secret in self.secrets:
            cleaned = cleaned.replace(secret, MASK)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class DeskJsonFormatter(JsonFormatter):
    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:  # type: ignore[type-arg]
        super().add_fields(log_data, record, message_dict)
        log_data["time"] = self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z"
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        for name in CONTEXT_FIELDS:
            log_data.setdefault(name, getattr(record, name, None))


def configure(settings: Settings) -> None:
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        formatter: logging.Formatter = DeskJsonFormatter("%(message)s", rename_fields={"message": "message"})
        formatter.converter = time.gmtime
    else:
        formatter = logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    handler.addFilter(
        RedactSecrets(
            (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token or "")
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # A quiet start: schema upgrades and the HTTP server's banner are the libraries' chatter.
    for chatty in ("alembic", "waitress"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
