"""Reports for leads: periods of desk-local dates, and the figures worded as text, CSV, JSON, Block
Kit and a chart. The figures themselves are aggregated in the store (`storage/reports.py`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import pendulum

from handlers.rules.sla import DeskCalendar
from storage.reports import Bounds, Figures, IncidentFigures

CSV_COLUMNS = [
    "ticket",
    "desk",
    "queue",
    "class",
    "company",
    "tier",
    "filed_at",
    "due_at",
    "first_response_at",
    "first_responder",
    "met",
    "resolved_at",
    "reopened",
    "status",
    # After the first answer (added at the end: scripts that read the columns above keep working).
    "next_responses",
    "next_breached",
    "csat",
]
PERIOD_WORDS = ("this-week", "last-week", "this-month", "last-month")
FORMULA_STARTS = ("=", "+", "-", "@")
GOAL_PERCENT = 90.0  # the line drawn on the chart
# Okabe-Ito: told apart with every common colour-vision deficiency.
QUEUE_COLOURS = {"tech": "#0072B2", "care": "#E69F00"}
GOAL_COLOUR = "#009E73"
WEEKS_CHARTED = 12


class BadPeriod(ValueError):
    """A period that can't be read; its message says what is expected."""


def parse_period(word: str | None, today: date) -> tuple[date, date]:
    """this-week | last-week | this-month | last-month | FROM..TO (ISO dates, both included)."""
    word = (word or "this-week").lower()
    monday = today - timedelta(days=today.weekday())
    if word == "this-week":
        return monday, monday + timedelta(days=6)
    if word == "last-week":
        return monday - timedelta(days=7), monday - timedelta(days=1)
    first = today.replace(day=1)
    if word == "this-month":
        return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    if word == "last-month":
        end = first - timedelta(days=1)
        return end.replace(day=1), end
    if ".." in word:
        start_text, end_text = word.split("..", 1)
        return dates(start_text, end_text)
    raise BadPeriod(
        f"unknown period {word!r}: use {', '.join(PERIOD_WORDS)} or FROM..TO (2026-11-01..2026-11-30)"
    )


def dates(start_text: str, end_text: str) -> tuple[date, date]:
    try:
        start, end = date.fromisoformat(start_text.strip()), date.fromisoformat(end_text.strip())
    except ValueError:
        raise BadPeriod(f"dates must be YYYY-MM-DD, not {start_text!r} and {end_text!r}") from None
    if end < start:
        raise BadPeriod(f"the period ends ({end}) before it starts ({start})")
    if (end - start).days > 3 * 366:
        raise BadPeriod("a period may span at most three years")
    return start, end


def bounds(calendars: Mapping[str, DeskCalendar], desks: Iterable[str], first: date, last: date) -> Bounds:
    """Each desk's local dates as UTC instants [first 00:00, last + 1 day 00:00)."""
    result = {}
    for desk in desks:
        zone = calendars[desk].timezone
        start = pendulum.datetime(first.year, first.month, first.day, tz=zone)
        after = last + timedelta(days=1)
        end = pendulum.datetime(after.year, after.month, after.day, tz=zone)
        result[desk] = (start.in_timezone("UTC"), end.in_timezone("UTC"))
    return result


def weeks(
    calendars: Mapping[str, DeskCalendar], desks: Sequence[str], last_day: date, count: int = WEEKS_CHARTED
) -> list[tuple[date, Bounds]]:
    """The `count` weeks (Monday to Sunday) up to the one holding `last_day`, oldest first."""
    monday = last_day - timedelta(days=last_day.weekday())
    starts = [monday - timedelta(weeks=n) for n in range(count - 1, -1, -1)]
    return [(start, bounds(calendars, desks, start, start + timedelta(days=6))) for start in starts]


# --- wording ---------------------------------------------------------------------------------------------


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} min"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} h"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def group_label(row: Figures, labels: Mapping[str, str]) -> str:
    queue = "Technical Support" if row.queue == "tech" else "Customer Care"
    klass = f" · {row.klass.title()}" if row.klass else ""
    return f"{labels.get(row.desk, row.desk.upper())} · {queue}{klass}"


def figure_lines(row: Figures) -> list[str]:
    partners = ", ".join(f"{name} {n}" for name, n in row.breaches_by_partner) or "none"
    agents = ", ".join(f"{name} {n}" for name, n in row.breaches_by_agent) or "none"
    return [
        f"filed {row.filed} · met {row.met} · breached {row.breached} · % met {_percent(row.met_percent)}",
        f"first response p50 {_minutes(row.first_response_p50)} · p90 {_minutes(row.first_response_p90)}"
        f" · resolution p50 {_hours(row.resolution_p50)} · reopened {row.reopened}",
        f"breaches by partner: {partners}",
        f"breaches by agent: {agents}",
    ] + after_first_answer_lines(row)


def after_first_answer_lines(row: Figures) -> list[str]:
    """Next responses and satisfaction, when the period has any."""
    lines = []
    if row.next_met or row.next_breached:
        lines.append(
            f"next response: met {row.next_met} · breached {row.next_breached} · "
            f"% met {_percent(row.next_met_percent)} · p50 {_minutes(row.next_p50)} · "
            f"p90 {_minutes(row.next_p90)}"
        )
    if row.csat_answers:
        agents = ", ".join(f"{who} {good}/{n}" for who, n, good in row.csat_by_agent) or "none"
        lines.append(
            f"CSAT: {row.csat_answers} answers · rated 4-5 {_percent(row.csat_good_percent)} · "
            f"by agent (4-5 of answers): {agents}"
        )
    return lines


def incident_line(item: IncidentFigures, labels: Mapping[str, str]) -> str:
    unclaimed = item.opened - item.claimed
    return (
        f"{labels.get(item.desk, item.desk.upper())}: {item.opened} opened · {item.linked} linked tickets · "
        f"time to claim p50 {_minutes(item.time_to_claim_p50)} · longest {_minutes(item.time_to_claim_max)}"
        + (f" · {unclaimed} not claimed" if unclaimed else "")
    )


OVERALL_LABEL = "All groups"


@dataclass(frozen=True)
class Report:
    """One period's figures, ready to be worded in any format."""

    rows: Sequence[Figures]  # per desk, queue and class
    first: date
    last: date
    labels: Mapping[str, str]  # desk -> its label
    incidents: Sequence[IncidentFigures] = ()
    overall: Figures | None = None  # all groups at once


def as_text(report: Report) -> str:
    rows, first, last, labels = report.rows, report.first, report.last, report.labels
    incidents, overall = report.incidents, report.overall
    if not rows:
        return f"No tickets were filed from {first} to {last}."
    out = [f"SLA report {first} to {last}"]
    if overall is not None:
        out += ["", OVERALL_LABEL] + ["  " + line for line in figure_lines(overall)]
    for row in rows:
        out += ["", group_label(row, labels)] + ["  " + line for line in figure_lines(row)]
    if incidents:
        out += ["", "Mass incidents"] + ["  " + incident_line(item, labels) for item in incidents]
    return "\n".join(out) + "\n"


def as_json(report: Report) -> str:
    def figures(row: Figures) -> dict[str, Any]:
        return {
            **asdict(row),
            "met_percent": row.met_percent,
            "next_met_percent": row.next_met_percent,
            "csat_good_percent": row.csat_good_percent,
        }

    document = {
        "from": report.first.isoformat(),
        "to": report.last.isoformat(),
        "all": figures(report.overall) if report.overall is not None else None,
        "groups": [figures(row) for row in report.rows],
        "incidents": [asdict(item) for item in report.incidents],
    }
    return json.dumps(document, indent=2) + "\n"


def as_blocks(report: Report) -> list[dict[str, Any]]:
    """The figures as a Slack message: within Slack's 50 blocks and 3,000 characters a section."""
    rows, first, last, labels = report.rows, report.first, report.last, report.labels
    incidents, overall = report.incidents, report.overall
    from handlers.rules.eligibility import escape

    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"SLA report {first} to {last}"[:150]}}
    ]
    if not rows:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "No tickets were filed in this period."}}
        )
        return blocks
    labelled = ([(OVERALL_LABEL, overall)] if overall is not None else []) + [
        (group_label(row, labels), row) for row in rows[:40]
    ]
    for label, row in labelled:
        text = f"*{escape(label)}*\n" + "\n".join(escape(line) for line in figure_lines(row))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
    if len(rows) > 40:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"…and {len(rows) - 40} more"}]}
        )
    if incidents:
        text = "*Mass incidents*\n" + "\n".join(escape(incident_line(i, labels)) for i in incidents[:20])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
    return blocks


def _cell(value: str) -> str:
    """Spreadsheets never run what a cell holds: formula-looking text gets a leading quote."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def write_csv(rows: Iterable[Any], out: TextIO, zones: Mapping[str, str], now: datetime) -> int:
    """One row per ticket, the columns in SPEC's order, instants ISO-8601 with the desk's offset."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    cache: dict[str, ZoneInfo] = {}
    written = 0
    for row in rows:
        (
            ticket_id,
            desk,
            queue,
            klass,
            company,
            tier,
            filed,
            due,
            first,
            responder,
            met,
            resolved,
            reopened,
            status,
            next_responses,
            next_breached,
            rating,
        ) = row
        zone = cache.setdefault(desk, ZoneInfo(zones.get(desk, "UTC")))

        def instant(value: datetime | None, zone: ZoneInfo = zone) -> str:
            return value.astimezone(zone).isoformat() if value else ""

        if met is None and first is None and due < now:
            met = False  # unanswered past due: breached
        writer.writerow(
            [
                f"T-{ticket_id}", desk, queue, klass or "", _cell(company), _cell(tier),
                instant(filed), instant(due), instant(first), _cell(responder or ""),
                "" if met is None else ("yes" if met else "no"),
                instant(resolved), "yes" if reopened else "no", status,
                int(next_responses or 0), int(next_breached or 0), "" if rating is None else int(rating),
            ]
        )  # fmt: skip
        written += 1
    return written


def chart_png(series: Sequence[tuple[date, Mapping[str, tuple[int, int]]]], title: str) -> bytes:
    """% met per week by queue, with the goal line, over breaches per week: 1000 x 650 pixels."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    labels = [start.strftime("%d %b") for start, _ in series]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), dpi=100, sharex=True, height_ratios=(3, 2))
    try:
        positions = list(range(len(series)))
        for queue, name in (("tech", "Technical Support"), ("care", "Customer Care")):
            values = []
            for _, week in series:
                met, late = week.get(queue, (0, 0))
                values.append(100.0 * met / (met + late) if met + late else float("nan"))
            top.plot(positions, values, marker="o", linewidth=2, color=QUEUE_COLOURS[queue], label=name)
        top.axhline(
            GOAL_PERCENT, color=GOAL_COLOUR, linestyle="--", linewidth=1.5, label=f"goal {GOAL_PERCENT:.0f}%"
        )
        top.set_ylim(0, 105)
        top.set_ylabel("% of SLAs met")
        top.set_title(title)
        top.legend(loc="lower left", fontsize=9)
        top.grid(axis="y", alpha=0.3)
        below = [0] * len(series)
        for queue, name in (("tech", "Technical Support"), ("care", "Customer Care")):
            counts = [week.get(queue, (0, 0))[1] for _, week in series]
            bottom.bar(positions, counts, bottom=below, color=QUEUE_COLOURS[queue], label=name)
            below = [b + c for b, c in zip(below, counts, strict=True)]
        bottom.set_ylabel("breaches")
        bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
        bottom.set_xlabel("week starting")
        bottom.set_xticks(positions, labels, rotation=45, ha="right")
        bottom.grid(axis="y", alpha=0.3)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)


# --- one report, put together --------------------------------------------------------------------------


def report_desks(calendars: Mapping[str, DeskCalendar], desk: str | None) -> list[str]:
    if desk is not None and desk not in calendars:
        raise BadPeriod(f"unknown desk {desk!r} (expected one of {', '.join(sorted(calendars))})")
    return [desk] if desk else sorted(calendars)


def build_report(
    session: Any,
    desks: Any,  # handlers.desks.DeskBook
    first: date,
    last: date,
    desk: str | None,
    queue: str | None,
    now: datetime,
) -> tuple[list[Figures], Bounds]:
    from storage.reports import figures

    names = report_desks(desks.calendars, desk)
    period = bounds(desks.calendars, names, first, last)
    return figures(session, period, now, queue), period


def report_of(
    session: Any, desks: Any, first: date, last: date, desk: str | None, queue: str | None, now: datetime
) -> Report:
    """The period's report: its groups, its incidents and its overall line."""
    rows, _ = build_report(session, desks, first, last, desk, queue, now)
    incidents = incident_report(session, desks, first, last, desk, queue)
    whole = overall_report(session, desks, first, last, desk, queue, now)
    return Report(rows, first, last, desks.labels, incidents, whole)


def overall_report(
    session: Any, desks: Any, first: date, last: date, desk: str | None, queue: str | None, now: datetime
) -> Figures | None:
    """The period's figures over all its groups at once: the overall line of every format."""
    from storage.reports import overall

    names = report_desks(desks.calendars, desk)
    return overall(session, bounds(desks.calendars, names, first, last), now, queue)


def incident_report(
    session: Any, desks: Any, first: date, last: date, desk: str | None, queue: str | None
) -> list[IncidentFigures]:
    """The period's mass incidents, per desk: opened, linked tickets, time to claim."""
    from storage.reports import incident_figures

    names = report_desks(desks.calendars, desk)
    return incident_figures(session, bounds(desks.calendars, names, first, last), queue)


def report_files(
    session: Any, desks: Any, first: date, last: date, desk: str | None, queue: str | None, now: datetime
) -> tuple[str, list[tuple[str, bytes, str]]]:
    """The figures as text, the chart and the period's tickets as CSV: what a report or digest uploads."""
    from storage.reports import report_rows, weekly_met

    rows, period = build_report(session, desks, first, last, desk, queue, now)
    names = report_desks(desks.calendars, desk)
    series = weekly_met(session, [b for _, b in weeks(desks.calendars, names, last)], now, queue)
    starts = [start for start, _ in weeks(desks.calendars, names, last)]
    scope = " · ".join(filter(None, [desks.labels.get(desk, desk.upper()) if desk else "all desks", queue]))
    png = chart_png(list(zip(starts, series, strict=True)), f"SLAs met per week ({scope})")
    buffer = io.StringIO()
    zones = {name: desks.calendars[name].timezone for name in desks.calendars}
    write_csv(report_rows(session, period, queue, now), buffer, zones, now)
    name = f"sla-report-{first}-{last}"
    files = [
        (f"{name}.png", png, f"SLAs met per week to {last}"),
        (f"{name}.csv", buffer.getvalue().encode(), name),
    ]
    return as_text(report_of(session, desks, first, last, desk, queue, now)), files


def owe_weekly_digests(session: Any, desks: Any, report_channels: Mapping[str, str], now: datetime) -> int:
    """Each Monday at each desk's opening, last week's digest is owed once (any process may ask)."""
    from handlers.rules.sla import next_opening
    from storage import pings as ping_store
    from storage.vocabulary import PingKind

    owed = 0
    for desk, channel in report_channels.items():
        calendar = desks.calendars.get(desk)
        if calendar is None or not channel:
            continue
        today = pendulum.instance(now).in_timezone(calendar.timezone).date()
        monday = today - timedelta(days=today.weekday())
        opening = next_opening(
            calendar, pendulum.datetime(monday.year, monday.month, monday.day, tz=calendar.timezone)
        )
        if now < opening:
            continue  # not yet this week: last week's digest was owed last Monday
        last_week = (monday - timedelta(days=7), monday - timedelta(days=1))
        payload = {
            "to": channel,
            "desk": desk,
            "first": last_week[0].isoformat(),
            "last": last_week[1].isoformat(),
        }
        source = f"digest:{desk}:{monday.isoformat()}"
        if ping_store.owe_once(session, PingKind.DIGEST, source, opening, None, payload=payload):
            owed += 1
    return owed
