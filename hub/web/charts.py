"""The status page's charts: the report's inline-SVG bars (hub/reports/render.py `bar_chart`), drawn on
the server, so they need no script and read without JavaScript."""

from __future__ import annotations

from markupsafe import Markup

from hub.reports.metrics import Report
from hub.reports.render import BAD, GOOD, NEUTRAL, PORTAL, PREFLIGHT, bar_chart


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


# bar_chart escapes every label and caption it draws: its SVG is safe to mark as markup.
def report_charts(report: Report) -> dict[str, Markup]:
    """First-pass acceptance per portal, share caught before sending, problems by category, days to
    submission / approval / payment: SVG markup drawn from numbers only (labels escaped by bar_chart)."""
    share = report.preflight_share
    return {
        "acceptance": Markup(
            bar_chart(
                [
                    (
                        a.key,
                        [
                            (a.rate or 0.0, GOOD, f"{a.first_pass} accepted first time"),
                            ((1 - a.rate) if a.rate is not None else 0.0, BAD, f"{a.refused} refused"),
                        ],
                        f"{_percent(a.rate)} ({a.first_pass}/{a.first_pass + a.refused})",
                    )
                    for a in report.by_portal
                ],
                scale=1.0,
            )
        ),
        "caught": Markup(
            bar_chart(
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
        ),
        "categories": Markup(
            bar_chart(
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
        ),
        "days": Markup(
            bar_chart(
                [
                    (
                        f"invoice date to {c.milestone}",
                        [(c.median_days or 0.0, NEUTRAL, f"median over {c.invoices} invoice(s)")],
                        "n/a" if c.median_days is None else f"{c.median_days} days (n={c.invoices})",
                    )
                    for c in report.cycle_times
                ]
            )
        ),
    }
