"""The storm of the mass-incidents issue: 200 Critical `cloud_unreachable` filings from 200 companies
against two `serve` processes on PostgreSQL, Slack keeping one message a second per channel."""

from __future__ import annotations

import pytest

from tests.fake_slack import FakeSlack
from tests.helpers import PG_ENV, PG_URL
from tests.storm import run_storm


@pytest.mark.heavy
def test_a_storm_of_200_filings_opens_one_incident_and_loses_nothing(fake_slack: FakeSlack) -> None:
    if not PG_URL:
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV} (.ci/run always does)")
    # Within 30 s: twice the rate (200 within 60 s), while CI runs other tests beside it.
    figures = run_storm(PG_URL, fake_slack, filings=200, spread=30.0)
    print("\n" + "\n".join(figures.lines()))  # the figures, in the test's output (-s, or on failure)
    assert figures.busy == 0 and len(figures.acks) == 400 and max(figures.acks) < 3.0
    assert figures.incidents == 1 and figures.pages == 1
    assert figures.linked == 200 and figures.message_shows_all
    assert figures.confirmations == 200
    assert figures.duplicates == 0
    # The goal is 0 and quiet runs get 0; on a CI machine saturated by the other tests a post can leave
    # a process late enough that the fake, timing arrivals in this busy process, sees two within a second.
    # Each such 429 is honoured (nothing lost, nothing doubled: asserted above).
    assert figures.rate_limited <= 3
