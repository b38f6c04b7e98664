"""`/metrics`: the hub in the Prometheus text format, read from the store at each scrape.

Figures that describe the work (invoices by state, sends by outcome, send latency, outbox backlog,
the oldest READY invoice) come from the store, so every daemon of a store reports the same numbers and
a restart loses nothing; figures about this process (its jobs' runs and failures, profile health as it
sees it) come from its own memory. Built on `prometheus_client` (a custom collector: one scrape, a
handful of grouped queries, nothing kept between scrapes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import case, func
from sqlmodel import col, select

from hub.heartbeat import JobClock
from hub.store.database import Store
from hub.store.tables import AttemptRow, InvoiceRow, OutboxRow

#: Send latency buckets, in seconds: portals answer in tens of milliseconds to tens of seconds.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class HubCollector:
    """Collects the hub's figures at each scrape (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        now: Callable[[], datetime],
        jobs: JobClock | None = None,
        profile_health: Callable[[], dict[str, str | None]] | None = None,
    ):
        self.store = store
        self.now = now
        self.jobs = jobs
        #: profile id -> None when it works, or the reason it does not.
        self.profile_health = profile_health

    def collect(self) -> Iterator[Any]:
        yield from self._store_figures()
        if self.jobs is not None:
            yield from self._job_figures(self.jobs)
        if self.profile_health is not None:
            up = GaugeMetricFamily(
                "portalhub_profile_up",
                "1 when the portal profile can work, 0 when it is failing or held",
                labels=["profile"],
            )
            for profile, reason in sorted(self.profile_health().items()):
                up.add_metric([profile], 0 if reason else 1)
            yield up

    def _store_figures(self) -> Iterator[Any]:
        now = self.now()
        with self.store.session() as session:
            states = session.exec(
                select(InvoiceRow.profile_id, InvoiceRow.state, func.count()).group_by(
                    InvoiceRow.profile_id, InvoiceRow.state
                )
            ).all()
            sends = session.exec(
                select(AttemptRow.profile_id, AttemptRow.outcome, func.count()).group_by(
                    AttemptRow.profile_id, AttemptRow.outcome
                )
            ).all()
            buckets = [
                func.sum(case((col(AttemptRow.duration_ms) <= bound * 1000, 1), else_=0))
                for bound in LATENCY_BUCKETS
            ]
            latency = session.exec(
                select(AttemptRow.profile_id, func.count(), func.sum(AttemptRow.duration_ms), *buckets)
                .where(col(AttemptRow.duration_ms).is_not(None))
                .group_by(AttemptRow.profile_id)
            ).all()
            backlog = session.exec(
                select(func.count()).select_from(OutboxRow).where(col(OutboxRow.delivered_at).is_(None))
            ).one()
            oldest_ready = session.exec(
                select(InvoiceRow.profile_id, func.min(InvoiceRow.updated_at))
                .where(InvoiceRow.state == "READY")
                .group_by(InvoiceRow.profile_id)
            ).all()

        invoices = GaugeMetricFamily(
            "portalhub_invoices", "Invoices by portal profile and state", labels=["profile", "state"]
        )
        for profile, state, count in states:
            invoices.add_metric([profile or "", state], count)
        yield invoices

        sent = CounterMetricFamily(
            "portalhub_sends",
            "Requests sent to portals, by profile and outcome",
            labels=["profile", "outcome"],
        )
        for profile, outcome, count in sends:
            sent.add_metric([profile, outcome], count)
        yield sent

        histogram = HistogramMetricFamily(
            "portalhub_send_duration_seconds", "Time from request to portal answer", labels=["profile"]
        )
        for row in latency:
            profile, count, total_ms = row[0], row[1], row[2]
            cumulative: list[Any] = list(row[3:])
            bucket_pairs = [(str(b), int(c or 0)) for b, c in zip(LATENCY_BUCKETS, cumulative, strict=True)]
            bucket_pairs.append(("+Inf", int(count)))
            histogram.add_metric([profile], bucket_pairs, sum_value=(total_ms or 0) / 1000)
        yield histogram

        yield GaugeMetricFamily(
            "portalhub_feedback_outbox_pending",
            "Status events not yet written back to the AR system",
            value=backlog,
        )
        ready = GaugeMetricFamily(
            "portalhub_oldest_ready_age_seconds",
            "Age of the oldest invoice waiting to be sent, per profile",
            labels=["profile"],
        )
        for profile, oldest in oldest_ready:
            if oldest is not None:
                ready.add_metric([profile or ""], max(0.0, (now - oldest).total_seconds()))
        yield ready

    def _job_figures(self, clock: JobClock) -> Iterator[Any]:
        runs = CounterMetricFamily(
            "portalhub_job_runs",
            "This daemon's job runs (ingest, submit:<profile>, poll:<profile>, ...)",
            labels=["job", "outcome"],
        )
        last = GaugeMetricFamily(
            "portalhub_job_last_run_timestamp_seconds",
            "When each job of this daemon last finished",
            labels=["job"],
        )
        for name, state in sorted(clock.snapshot().items()):
            runs.add_metric([name, "ok"], state.runs - state.failures)
            runs.add_metric([name, "failed"], state.failures)
            if state.last_finished is not None:
                last.add_metric([name], state.last_finished.timestamp())
        yield runs
        yield last


def render(collector: HubCollector) -> bytes:
    """The text a scrape gets."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)
