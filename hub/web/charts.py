"""The status page's charts: the report's inline-SVG bars (hub/reports/render.py), drawn on the server,
so they need no script and read without JavaScript."""

from __future__ import annotations

from markupsafe import Markup

from hub.reports.metrics import Report
from hub.reports.render import acceptance_chart, category_chart, caught_chart, cycle_chart


# bar_chart escapes every label and caption it draws: its SVG is safe to mark as markup.
def report_charts(report: Report) -> dict[str, Markup]:
    """First-pass acceptance per portal, share caught before sending, problems by category, days to
    submission / approval / payment: the HTML report's own charts (labels escaped by bar_chart)."""
    return {
        "acceptance": Markup(acceptance_chart(report.by_portal)),
        "caught": Markup(caught_chart(report)),
        "categories": Markup(category_chart(report)),
        "days": Markup(cycle_chart(report)),
    }
