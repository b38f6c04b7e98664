"""The daemon: ticks, nothing else. Ingest, submit (one request at a time per portal), poll, feedback,
notifications, housekeeping, each on its own interval in one in-process APScheduler.

All coordination between daemons is in the database (leases); the scheduler's job store is memory.
SIGTERM (or SIGINT) sets the stop flag: the request in flight finishes and is recorded, no new one
starts, and the process exits once the running jobs return.
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass, field
from typing import Any

from hub.heartbeat import Heartbeat, JobClock, portalhub_version
from hub.notify.job import NotifyReport, notify
from hub.pipeline.intake import IntakeReport, ingest
from hub.pipeline.reconcile import expire_leases
from hub.pipeline.submit import SubmitReport, submit_profile
from hub.runtime import Hub
from status_sync.feedback import FeedbackReport, deliver
from status_sync.poller import PollReport, poll_profile
from status_sync.receiver import ReceiverServer, StatusReceiver

log = logging.getLogger(__name__)


class _NoBusySkips(logging.Filter):
    """A submit job sends until its portal's queue is empty, so it often outlasts its interval and
    APScheduler skips the next run with a WARNING: expected, twice a second per busy portal, and it
    would drown the warnings an operator must see."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_NoBusySkips())


@dataclass
class CycleReport:
    intake: IntakeReport | None = None
    expired: int = 0
    submits: dict[str, SubmitReport] = field(default_factory=dict)
    polls: dict[str, PollReport] = field(default_factory=dict)
    feedback: FeedbackReport | None = None
    notify: NotifyReport | None = None


class Daemon:
    def __init__(self, hub: Hub):
        self.hub = hub
        self.stop = hub.stopping
        self.receiver: ReceiverServer | None = None  # the listener: receiver, /healthz, /metrics
        self.jobs = JobClock()
        self.heartbeat = Heartbeat(hub.store, hub.worker_id, self.jobs, hub.config.daemon.heartbeat_seconds)

    # --- the steps (each is one scheduler job) ---------------------------------------------------------
    def ingest(self) -> IntakeReport:
        report = ingest(self.hub)
        if report.counts:
            log.info("ingest: %s", report)
        return report

    def housekeeping(self) -> int:
        moved = expire_leases(self.hub)
        if moved:
            log.warning(
                "housekeeping: %d invoice(s) left SUBMITTING by a dead worker are now IN_DOUBT", moved
            )
        return moved

    def submit(self, profile_id: str) -> SubmitReport:
        report = submit_profile(self.hub, self.hub.profile(profile_id), self.stop)
        if report.sent:
            log.info("submit %s: %d sent %s", profile_id, report.sent, report.outcomes)
        return report

    def poll(self, profile_id: str) -> PollReport:
        profile = self.hub.profile(profile_id)
        return poll_profile(
            self.hub.store,
            profile,
            self.hub.connector(profile),
            worker=self.hub.worker_id,
            now=self.hub.clock.now(),
            lease_seconds=self.hub.config.daemon.lease_seconds,
        )

    def feedback(self) -> FeedbackReport:
        return deliver(
            self.hub.store,
            self.hub.ar_sink,
            self.hub.clock.now(),
            worker=self.hub.worker_id,
            lease_seconds=self.hub.config.daemon.lease_seconds,  # a dead holder blocks no longer than this
        )

    def notify(self) -> NotifyReport:
        """Tell collectors and webhooks what went wrong, in digests (hub/notify)."""
        report = notify(self.hub)
        if report.digests or report.failures:
            log.info("notify: sent %s, failed %s", report.digests, list(report.failures))
        return report

    # --- the inbound status receiver -----------------------------------------------------------------------
    def start_receiver(self) -> ReceiverServer | None:
        """Serve the inbound status receiver when the config has `receiver:` (with `/healthz` and
        `/metrics` beside it); None when it has not. `run_forever` starts the listener; anything else
        that runs cycles (the demo) may start the receiver, and stops it after."""
        settings = self.hub.config.receiver
        if settings is None or not settings.enabled or self.receiver is not None:
            return self.receiver
        receiver = StatusReceiver(
            store=self.hub.store,
            profiles=lambda: self.hub.profiles,
            connector=self.hub.connector,
            secrets=self.hub.secrets,
            now=self.hub.clock.now,
            path=settings.path,
            max_body_bytes=settings.max_body_bytes,
        )
        app = self._listener_app(receiver.app())
        self.receiver = ReceiverServer(app, settings.host, settings.port, settings.path).start()
        log.info("status receiver listening on %s", self.receiver.url)
        return self.receiver

    def start_listener(self) -> ReceiverServer | None:
        """The daemon's HTTP listener: the receiver's when there is one, else `/healthz` and `/metrics`
        alone on `listener:` (None when that is turned off)."""
        if self.start_receiver() is not None or not self.hub.config.listener.enabled:
            return self.receiver
        settings = self.hub.config.listener
        self.receiver = ReceiverServer(
            self._listener_app(None), settings.host, settings.port, "/healthz"
        ).start()
        return self.receiver

    def _listener_app(self, receiver_app: Any) -> Any:
        from hub.ops_http import listener_app

        return listener_app(
            self.hub.store,
            self.jobs,
            self.hub.clock.now,
            receiver=receiver_app,
            profile_health=self._profile_health,
        )

    def _profile_health(self) -> dict[str, str | None]:
        """profile id -> None when it can work, else why not (a broken rules file, for now)."""
        health: dict[str, str | None] = dict.fromkeys(self.hub.profiles)
        for file, problems in self.hub.broken_profiles.items():
            health[f"file:{file}"] = "; ".join(problems) or "broken"
        return health

    def _start_web(self) -> Any:
        """The collectors' pages and API (hub/web) when `web:` is configured; None otherwise."""
        if self.hub.config.web is None:
            return None
        from hub.web import start_web

        server = start_web(self.hub)
        log.info("web pages and API on %s", server.url)
        return server

    def stop_receiver(self) -> None:
        if self.receiver is not None:
            self.receiver.stop()
            self.receiver = None

    # --- modes ---------------------------------------------------------------------------------------------
    def run_once(self) -> CycleReport:
        """One full cycle in order; what `portalhub run --once` and the demo do."""
        report = CycleReport(intake=self.ingest(), expired=self.housekeeping())
        for profile_id in sorted(self.hub.profiles):
            if self.stop.is_set():
                break
            report.submits[profile_id] = self.submit(profile_id)
        for profile_id in sorted(self.hub.profiles):
            report.polls[profile_id] = self.poll(profile_id)
        report.feedback = self.feedback()
        report.notify = self.notify()
        return report

    def run_forever(self, install_signals: bool = True) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        profiles = sorted(self.hub.profiles)
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=3 + 2 * len(profiles))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
            timezone="UTC",
        )
        timing = self.hub.config.daemon
        start = self.hub.clock.now()

        def add(name: str, func: Any, seconds: float, *args: Any) -> None:
            self.jobs.expect(name, seconds)
            scheduler.add_job(
                self._guarded(name, func),
                "interval",
                args=args,
                seconds=seconds,
                id=name,
                name=name,  # the log says which job ran ("poll:acme-coupa"), not the wrapper's name
                next_run_time=start,
            )

        add("ingest", self.ingest, timing.ingest_seconds)
        add("housekeeping", self.housekeeping, timing.housekeeping_seconds)
        add("feedback", self.feedback, timing.feedback_seconds)
        add("heartbeat", lambda: self.heartbeat.beat(self.hub.clock.now()), timing.heartbeat_seconds)
        if self.hub.config.notifications is not None:
            add("notify", self.notify, self.hub.config.notifications.check_seconds)
        for profile_id in profiles:
            add(f"submit:{profile_id}", self.submit, timing.submit_seconds, profile_id)
            add(f"poll:{profile_id}", self.poll, timing.poll_seconds, profile_id)
        if install_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: self.stop.set())
        self.start_listener()  # before the scheduler: a listener that cannot listen stops the start-up
        web = self._start_web()
        self.heartbeat.beat(start)
        scheduler.start()
        log.info(
            "portalhub %s daemon %s started: store %s, %d profile(s) [%s], listening on %s",
            portalhub_version(),
            self.hub.worker_id,
            self.hub.store.display_url(),
            len(profiles),
            ", ".join(profiles),
            self.receiver.url.rsplit("/", 1)[0] if self.receiver else "nothing (listener off)",
        )
        try:
            self.stop.wait()
        finally:
            log.info("stopping: finishing the requests in flight, starting no new one")
            scheduler.shutdown(wait=True)
            self.stop_receiver()
            if web is not None:
                web.stop()
            self.heartbeat.stopped(self.hub.clock.now())
            log.info("daemon %s stopped", self.hub.worker_id)

    def _guarded(self, name: str, func: Any) -> Any:
        def run(*args: Any) -> None:
            if self.stop.is_set():
                return
            self.jobs.started(name, self.hub.clock.now())
            try:
                func(*args)
            except Exception as exc:  # one failing job must not stop the daemon; it runs again next tick
                cause = f"{type(exc).__name__}: {exc}"
                previous = self.jobs.snapshot().get(name)
                self.jobs.finished(name, self.hub.clock.now(), error=cause)
                if previous is not None and previous.error == cause:
                    log.debug("job %s failed again: %s", name, cause)  # said once already
                else:
                    log.error("job %s failed: %s", name, cause, exc_info=log.isEnabledFor(logging.DEBUG))
            else:
                previous = self.jobs.snapshot().get(name)
                self.jobs.finished(name, self.hub.clock.now())
                if previous is not None and previous.error is not None:
                    log.info("job %s works again", name)

        run.__qualname__ = run.__name__ = name  # the scheduler's own lines name the job, not the wrapper
        return run
