"""Which Slack failures are retried, after how long, and which are final."""

from __future__ import annotations

import random
import urllib.error

import pytest

from handlers.rules.retry import Action, after_no_answer, after_slack_error, backoff


def test_rate_limits_wait_for_retry_after() -> None:
    decision = after_slack_error(429, "ratelimited", "30", attempts=1)
    assert (decision.action, decision.wait_seconds, decision.unsure) == (Action.RETRY, 30.0, False)
    assert after_slack_error(429, "ratelimited", None, 1).wait_seconds == 1.0
    assert after_slack_error(429, "ratelimited", "soon", 1).wait_seconds == 1.0


@pytest.mark.parametrize(("status", "code"), [(500, "internal_error"), (503, ""), (200, "fatal_error")])
def test_slack_side_failures_retry_and_look_first(status: int, code: str) -> None:
    decision = after_slack_error(status, code, None, attempts=3)
    assert decision.action is Action.RETRY and decision.unsure and 4 <= decision.wait_seconds <= 8


@pytest.mark.parametrize("code", ["not_in_channel", "channel_not_found", "is_archived", "cannot_dm_bot"])
def test_an_unreachable_channel_is_not_retried_blindly(code: str) -> None:
    assert after_slack_error(200, code, None, 1).action is Action.CHANNEL


def test_anything_else_is_final() -> None:
    decision = after_slack_error(200, "invalid_blocks", None, 1)
    assert (decision.action, decision.reason) == (Action.FAIL, "invalid_blocks")


def test_no_answer_retries_and_a_timeout_may_hide_a_post() -> None:
    assert after_no_answer(TimeoutError("timed out"), 1).unsure
    refused = urllib.error.URLError(ConnectionRefusedError(111, "refused"))
    assert not after_no_answer(refused, 1).unsure  # nothing reached Slack


def test_backoff_grows_with_jitter_and_a_ceiling() -> None:
    rng = random.Random(1)
    assert 1 <= backoff(1, rng) <= 2 and 8 <= backoff(4, rng) <= 16
    assert 300 <= backoff(50, rng) <= 600
