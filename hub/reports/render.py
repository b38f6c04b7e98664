"""A report as one self-contained HTML page (charts are inline SVG drawn here: no script, no CDN, it
opens offline and prints) and as CSV files, one per table, for spreadsheets."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from decimal import Decimal
from html import escape
from pathlib import Path

from hub.money import amount_text, money_text
from hub.reports.metrics import AGE_BUCKETS, Acceptance, Report

GOOD, BAD, NEUTRAL = "#2e7d32", "#c62828", "#90a4ae"
PREFLIGHT, PORTAL = "#1565c0", "#ef6c00"
STATE_COLOURS = {
    "BLOCKED": "#f9a825",
    "REJECTED": "#c62828",
    "DISPUTED": "#8e24aa",
    "READY": "#90a4ae",
    "IN_DOUBT": "#6d4c41",
    "SUBMITTED": "#64b5f6",
    "PENDING_APPROVAL": "#1e88e5",
    "APPROVED": "#2e7d32",
    "ON_HOLD": "#ff7043",
}
Segment = tuple[float, str, str]  # value, colour, tooltip


def bar_chart(rows: Sequence[tuple[str, Sequence[Segment], str]], scale: float | None = None) -> str:
    """Horizontal (stacked) bars: one row per label, its segments left to right, a caption at the end."""
    label_width, bar_width, row_height, caption_width = 190, 420, 26, 170
    top = max((sum(v for v, _, _ in segments) for _, segments, _ in rows), default=0.0)
    scale = scale or top or 1.0
    height = row_height * len(rows) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{label_width + bar_width + caption_width}" '
        f'height="{height}" viewBox="0 0 {label_width + bar_width + caption_width} {height}">'
    ]
    for n, (label, segments, caption) in enumerate(rows):
        y = 4 + n * row_height
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end" class="label">{escape(label)}</text>'
        )
        parts.append(f'<rect x="{label_width}" y="{y + 3}" width="{bar_width}" height="18" fill="#eceff1"/>')
        x = float(label_width)
        for value, colour, title in segments:
            width = bar_width * value / scale
            if width > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 3}" width="{width:.1f}" height="18" fill="{colour}">'
                    f"<title>{escape(title)}</title></rect>"
                )
            x += width
        parts.append(
            f'<text x="{label_width + bar_width + 8}" y="{y + 16}" class="caption">{escape(caption)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def acceptance_chart(rows: Sequence[Acceptance]) -> str:
    """First-pass acceptance per portal (or per customer)."""
    return bar_chart(
        [
            (
                a.key,
                [
                    (a.rate or 0.0, GOOD, f"{a.first_pass} accepted first time"),
                    ((1 - a.rate) if a.rate is not None else 0.0, BAD, f"{a.refused} rejected or disputed"),
                ],
                f"{_percent(a.rate)} ({a.first_pass}/{a.first_pass + a.refused})",
            )
            for a in rows
        ],
        scale=1.0,
    )


def category_chart(report: Report) -> str:
    """Problems by category: caught by pre-flight, or by the portal."""
    return bar_chart(
        [
            (
                c.label,
                [
                    (c.preflight, PREFLIGHT, f"{c.preflight} caught by pre-flight"),
                    (c.portal, PORTAL, f"{c.portal} caught by the portal"),
                ],
                f"{c.preflight} pre-flight, {c.portal} portal",
            )
            for c in report.categories
        ]
    )


def caught_chart(report: Report) -> str:
    """The share of all problems caught before sending."""
    share = report.preflight_share
    return bar_chart(
        [
            (
                "all problems",
                [
                    (share or 0.0, PREFLIGHT, f"{report.caught_by_preflight} caught before sending"),
                    (
                        (1 - share) if share is not None else 0.0,
                        PORTAL,
                        f"{report.caught_by_portal} by the portal",
                    ),
                ],
                f"{_percent(share)} before sending",
            )
        ],
        scale=1.0,
    )


def cycle_chart(report: Report) -> str:
    """Median days from the invoice date to submission, approval and payment."""
    return bar_chart(
        [
            (
                f"invoice date to {c.milestone}",
                [(c.median_days or 0.0, NEUTRAL, f"median over {c.invoices} invoice(s)")],
                "n/a" if c.median_days is None else f"{c.median_days} days (n={c.invoices})",
            )
            for c in report.cycle_times
        ]
    )


def _acceptance(title: str, rows: Sequence[Acceptance]) -> str:
    chart = acceptance_chart(rows)
    table = _table(
        ("", "Sent", "Accepted first time", "Rejected or disputed", "No decision yet", "First-pass rate"),
        [(a.key, a.sent, a.first_pass, a.refused, a.undecided, _percent(a.rate)) for a in rows],
    )
    return f"<h3>{escape(title)}</h3>{chart}{table}"


def _table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(value))}</td>" for value in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def to_html(report: Report) -> str:
    """The report as a standalone HTML page."""
    period = f"{report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC"
    share = report.preflight_share
    categories, caught, cycle = category_chart(report), caught_chart(report), cycle_chart(report)
    outstanding_charts = []
    for currency in report.outstanding_totals():
        cells = [o for o in report.outstanding if o.currency == currency]
        rows = []
        for bucket, _, _ in AGE_BUCKETS:
            segments = [
                (
                    float(o.amount),
                    STATE_COLOURS.get(o.state, NEUTRAL),
                    f"{o.state}: {money_text(o.amount, currency)}",
                )
                for o in cells
                if o.bucket == bucket and o.amount > 0
            ]
            total = sum((o.amount for o in cells if o.bucket == bucket), Decimal(0))
            rows.append((bucket, segments, money_text(total, currency)))
        outstanding_charts.append(f"<h3>{escape(currency)}</h3>{bar_chart(rows)}")
    legend = "".join(
        f'<span class="key"><i style="background:{colour}"></i>{escape(state)}</span>'
        for state, colour in STATE_COLOURS.items()
    )
    totals = ", ".join(money_text(v, c) for c, v in report.outstanding_totals().items()) or "nothing"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>portalhub report {escape(period)}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 24px 40px; color: #263238; max-width: 1000px; }}
h1 {{ font-size: 22px; margin-bottom: 2px; }} h2 {{ font-size: 18px; margin-top: 32px; border-bottom: 1px solid #cfd8dc; }}
h3 {{ font-size: 15px; margin: 18px 0 6px; }} .sub {{ color: #607d8b; }}
table {{ border-collapse: collapse; margin: 8px 0 4px; }} td, th {{ border: 1px solid #cfd8dc; padding: 3px 8px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }} th {{ background: #eceff1; }}
.chart text {{ font: 12px system-ui, sans-serif; fill: #37474f; }} .figure {{ font-size: 28px; font-weight: 600; }}
.key {{ margin-right: 12px; font-size: 12px; }} .key i {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px; }}
</style></head><body>
<h1>portalhub report</h1>
<div class="sub">{escape(period)}; generated {report.generated_at:%Y-%m-%d %H:%M} UTC</div>
<h2>First-pass acceptance</h2>
<p>Invoices first sent in the period that the portal accepted without rejecting or disputing them.</p>
{_acceptance("By portal", report.by_portal)}
{_acceptance("By customer", report.by_customer)}
<h2>Problems by category</h2>
<p><span class="key"><i style="background:{PREFLIGHT}"></i>caught by pre-flight (never sent)</span>
<span class="key"><i style="background:{PORTAL}"></i>rejected or disputed by the portal</span></p>
{categories}
{_table(("Category", "Pre-flight", "Portal"), [(c.label, c.preflight, c.portal) for c in report.categories])}
<h2>Caught before sending</h2>
<p class="figure">{_percent(share)}</p>
<p>{report.caught_by_preflight} problem(s) caught by pre-flight, {report.caught_by_portal} by the portal
(blocks for the hub's own configuration are not counted).</p>
{caught}
<h2>Time to submission, approval and payment</h2>
<p>Median days from the invoice date, over the invoices first sent in the period.</p>
{cycle}
{_table(("Milestone", "Median days", "Invoices"), [(c.milestone, "n/a" if c.median_days is None else c.median_days, c.invoices) for c in report.cycle_times])}
<h2>Amount outstanding</h2>
<p>Not paid nor cancelled at the end of the period: <b>{escape(totals)}</b>, by age since the invoice date and by state.</p>
<p>{legend}</p>
{"".join(outstanding_charts)}
{_table(("State", "Age", "Invoices", "Amount"), [(o.state, o.bucket, o.invoices, money_text(o.amount, o.currency)) for o in report.outstanding])}
</body></html>
"""


def write_csvs(report: Report, folder: Path) -> list[Path]:
    """One CSV per table of the report; returns the files written."""
    tables: dict[str, tuple[Sequence[str], list[Sequence[object]]]] = {
        "acceptance.csv": (
            ("dimension", "key", "sent", "accepted_first_time", "rejected_or_disputed", "undecided", "rate"),
            [
                (
                    dimension,
                    a.key,
                    a.sent,
                    a.first_pass,
                    a.refused,
                    a.undecided,
                    "" if a.rate is None else f"{a.rate:.4f}",
                )
                for dimension, rows in (("portal", report.by_portal), ("customer", report.by_customer))
                for a in rows
            ],
        ),
        "problems_by_category.csv": (
            ("category", "label", "preflight", "portal"),
            [(c.category, c.label, c.preflight, c.portal) for c in report.categories],
        ),
        "caught.csv": (
            ("caught_by", "problems", "share"),
            [
                (
                    "preflight",
                    report.caught_by_preflight,
                    "" if report.preflight_share is None else f"{report.preflight_share:.4f}",
                ),
                (
                    "portal",
                    report.caught_by_portal,
                    "" if report.preflight_share is None else f"{1 - report.preflight_share:.4f}",
                ),
            ],
        ),
        "cycle_times.csv": (
            ("milestone", "median_days", "invoices"),
            [
                (c.milestone, "" if c.median_days is None else c.median_days, c.invoices)
                for c in report.cycle_times
            ],
        ),
        "outstanding.csv": (
            ("state", "age", "currency", "invoices", "amount"),
            [
                (o.state, o.bucket, o.currency, o.invoices, amount_text(o.amount, o.currency))
                for o in report.outstanding
            ],
        ),
    }
    written = []
    for name, (head, rows) in tables.items():
        path = folder / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(head)
            writer.writerows(rows)
        written.append(path)
    return written
