"""Period reports for AR management: how well invoices get through, where they fail, how fast they
are paid, and what is outstanding. `build_report` computes (hub/reports/metrics.py); `write_report`
writes the HTML page with its charts and the CSV files (hub/reports/render.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hub.reports.metrics import Report, build_report
from hub.reports.render import to_html, write_csvs

__all__ = ["Report", "WrittenReport", "build_report", "write_report"]


@dataclass
class WrittenReport:
    html: Path
    csvs: list[Path]


def write_report(report: Report, folder: Path) -> WrittenReport:
    """Write `report.html` and one CSV per table into `folder` (created if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    html = folder / "report.html"
    html.write_text(to_html(report), encoding="utf-8")
    return WrittenReport(html=html, csvs=write_csvs(report, folder))
