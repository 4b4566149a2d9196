"""Which Slack failures are tried again, after how long, and which are final.

Pure: an HTTP status, Slack's error code and the exception's kind in; a verdict out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

# The channel or person can't be reached by the bot: retrying won't help, a person must act.
CHANNEL_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "user_not_found",
        "cannot_dm_bot",
        "user_disabled",
        "account_inactive",
        "restricted_action",
    }
)
SERVER_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
MAX_BACKOFF_SECONDS = 600.0
# A row whose parent message is not posted yet (the card a copy goes under, the confirmation, the copy an
# edit changes, the incident message) looks again after this long: one value for every such wait.
PARENT_WAIT_SECONDS = 2.0
# A row that waits its turn behind an older one (copies in the order written, updates oldest first) is
# tried again at once: the older one is being posted.
IN_TURN_SECONDS = 0.0


class Action(StrEnum):
    """What to do after a Slack failure."""

    RETRY = "retry"
    CHANNEL = "channel"  # the target is unreachable: fall back or report, never retry blindly
    FAIL = "fail"


@dataclass(frozen=True)
class RetryDecision:
    action: Action
    wait_seconds: float = 0.0
    # The request may have reached Slack (a timeout after sending): look before posting again.
    unsure: bool = False
    reason: str = ""


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Exponential with jitter: 1-2 s after the first attempt, up to 5-10 minutes."""
    ceiling = min(MAX_BACKOFF_SECONDS, 2.0 ** min(attempts, 10))
    return (rng or random).uniform(ceiling / 2, ceiling)


def after_slack_error(status: int, code: str, retry_after: str | None, attempts: int) -> RetryDecision:
    """Slack answered with an error."""
    if status == 429:
        try:
            wait = max(float(retry_after or 1), 1.0)
        except ValueError:
            wait = 1.0
        return RetryDecision(Action.RETRY, wait, reason="ratelimited")
    if status >= 500 or code in SERVER_ERRORS:
        # Slack's own failure: it may still have posted, so the next attempt looks first.
        return RetryDecision(Action.RETRY, backoff(attempts), unsure=True, reason=f"{status} {code}".strip())
    if code in CHANNEL_ERRORS:
        return RetryDecision(Action.CHANNEL, reason=code)
    return RetryDecision(Action.FAIL, reason=code or f"HTTP {status}")


def after_no_answer(error: Exception, attempts: int) -> RetryDecision:
    """No answer at all: a timeout or a refused connection. A timeout may hide a post that happened."""
    cause = getattr(error, "reason", error)  # urllib wraps the socket's error
    unsure = not isinstance(cause, ConnectionRefusedError)
    return RetryDecision(Action.RETRY, backoff(attempts), unsure=unsure, reason=repr(error)[:200])
