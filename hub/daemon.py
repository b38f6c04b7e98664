"""The daemon: ticks, nothing else. Ingest, submit (one request at a time per portal), poll, feedback,
notifications, housekeeping, each on its own interval in one in-process APScheduler.

All coordination between daemons is in the database (leases); the scheduler's job store is memory.
The submit and poll jobs follow the profiles the hub has *now*: within `FOLLOW_SECONDS` of an ingest
that reloaded the rules folder, a profile that appeared gets its jobs and one that went away loses them. A profile that
cannot work (hub/profile_health.py) is skipped, or tried again with backoff, instead of failing every tick.

SIGTERM (or SIGINT) sets the stop flag: the request in flight finishes and is recorded, no new one
starts, and the process exits once the running jobs return, or after `daemon.shutdown_grace_seconds`
(default 30 s) at the latest, naming the jobs it did not wait for.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass, field
from typing import Any

from hub import profile_health
from hub.errors import ProfileUnavailableError
from hub.heartbeat import Heartbeat, JobClock, others_alive, portalhub_version
from hub.http_listener import HttpListener
from hub.notify.job import NotifyReport, notify
from hub.pipeline.intake import IntakeReport, ingest
from hub.pipeline.reconcile import expire_leases
from hub.pipeline.submit import GAVE_BACK, SubmitReport, submit_profile
from hub.runtime import Hub
from rules.schema import Profile
from status_sync.feedback import FeedbackReport, deliver
from status_sync.poller import PollReport, poll_profile
from status_sync.receiver import StatusReceiver

log = logging.getLogger(__name__)
#: How often the main thread gives new profiles their jobs (and takes them from those gone).
FOLLOW_SECONDS = 0.5


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
        self.receiver: HttpListener | None = None  # the listener: receiver, /healthz, /metrics
        self.jobs = JobClock()  # what each job did last: the heartbeat, /healthz and /metrics read it
        self.heartbeat = Heartbeat(hub.store, hub.worker_id, self.jobs, hub.config.daemon.heartbeat_seconds)
        self._scheduler: Any = None
        self._running: set[str] = set()  # jobs in flight, named when shutdown stops waiting for them

    # --- the steps (each is one scheduler job) ---------------------------------------------------------
    def ingest(self) -> IntakeReport:
        report = ingest(self.hub)
        if report.counts:
            log.info("ingest: %s", report)
        return report

    def follow_profiles(self) -> None:
        """Give each profile the hub has now its submit and poll jobs, and take them from profiles that
        went away (a rules file removed, or broken: its health says why). Called by the main thread,
        never by a job: APScheduler's shutdown holds the job-store lock while it waits for the jobs."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        timing = self.hub.config.daemon
        wanted = set(self.hub.profiles)
        have = {job.id.partition(":")[2] for job in scheduler.get_jobs() if job.id.startswith("submit:")}
        for profile_id in sorted(wanted - have):
            self._add_job(scheduler, f"submit:{profile_id}", self.submit, timing.submit_seconds, profile_id)
            self._add_job(scheduler, f"poll:{profile_id}", self.poll, timing.poll_seconds, profile_id)
            log.info("profile %s: submit and poll jobs started", profile_id)
        for profile_id in sorted(have - wanted):
            for name in (f"submit:{profile_id}", f"poll:{profile_id}"):
                if scheduler.get_job(name) is not None:
                    scheduler.remove_job(name)
                self.jobs.forget(name)
            log.info("profile %s is no longer loaded: its jobs stopped", profile_id)

    def _add_job(self, scheduler: Any, name: str, func: Any, seconds: float, *args: Any) -> None:
        self.jobs.expect(name, seconds)
        scheduler.add_job(
            self._guarded(name, func),
            "interval",
            args=args,
            seconds=seconds,
            id=name,
            name=name,  # the log says which job ran ("poll:acme-coupa"), not the wrapper's name
            next_run_time=self.hub.clock.now(),
            replace_existing=True,
        )

    def housekeeping(self) -> int:
        moved = expire_leases(self.hub)
        if moved:
            log.warning(
                "housekeeping: %d invoice(s) left SUBMITTING by a dead worker are now IN_DOUBT", moved
            )
        return moved

    def submit(self, profile_id: str) -> SubmitReport:
        """One run of the profile's submissions; runs again at once while a run ends only because it
        gave its portal back after one lease period and no other daemon is running on the store. The
        give-back lets another daemon take the portal at its next tick; with nobody to take it, waiting
        for this daemon's own next tick would leave the portal idle for up to `submit_seconds` every
        lease period (~5% of the sends in a run of 5 s leases and 0.5 s ticks). Each run starts as a
        tick's would: the profile as loaded now, its health, in-doubt sends reconciled."""
        while True:
            report = self._submit_run(profile_id)
            if (
                report.stopped_because != GAVE_BACK
                or self.stop.is_set()
                or others_alive(self.hub.store, self.hub.worker_id, self.hub.clock.now())
            ):
                return report

    def _submit_run(self, profile_id: str) -> SubmitReport:
        profile = self._workable(profile_id)
        if not isinstance(profile, Profile):
            report = SubmitReport(stopped_because=profile)
            with self.hub.store.session() as session:
                health = profile_health.health_of(session, profile_id)
            report.health = None if health.working else health
            return report
        report = submit_profile(self.hub, profile, self.stop)
        if report.sent:
            log.info("submit %s: %d sent %s", profile_id, report.sent, report.outcomes)
        return report

    def poll(self, profile_id: str) -> PollReport:
        profile = self._workable(profile_id)
        if not isinstance(profile, Profile):
            return PollReport(profile_id=profile_id, skipped=profile)
        try:
            return poll_profile(self.hub, profile)
        except ProfileUnavailableError as exc:
            now = self.hub.clock.now()
            with self.hub.store.session() as session:
                if profile_health.hold(
                    session,
                    profile_id,
                    kind=exc.kind,
                    reason=str(exc),
                    now=now,
                    fingerprint=profile_health.profile_fingerprint(profile),
                ):
                    log.warning("profile %s is on hold (%s): %s", profile_id, exc.kind, exc)
            return PollReport(profile_id=profile_id, error=str(exc))

    def _workable(self, profile_id: str) -> Profile | str:
        """The profile when its jobs may run now, else why not (gone, held, failing and not yet due).
        A hold whose files changed since it began ends here (the fix is in)."""
        profile = self.hub.profiles.get(profile_id)
        if profile is None:
            return f"profile {profile_id} is not loaded (its rules file was removed or does not load)"
        now = self.hub.clock.now()
        with self.hub.store.session() as session:
            health = profile_health.health_of(session, profile_id)
            if health.working:
                return profile
            # Holds on the rules file itself (rules, contested) end when the folder reloads cleanly.
            watched = health.state == profile_health.HELD and health.kind not in ("rules", "contested")
            fingerprint = profile_health.profile_fingerprint(profile) if watched else None
            if not profile_health.may_work(health, now, fingerprint):
                return f"profile {profile_id} {health.describe()}"
            if health.state == profile_health.HELD:
                profile_health.release(session, profile_id, "its files changed", now)
                log.info(
                    "profile %s released: its files changed since it was held (%s)", profile_id, health.kind
                )
        return profile

    def feedback(self) -> FeedbackReport:
        return deliver(self.hub)

    def notify(self) -> NotifyReport:
        """Tell collectors and webhooks what went wrong, in digests (hub/notify)."""
        report = notify(self.hub)
        if report.digests or report.failures:
            log.info("notify: sent %s, failed %s", report.digests, list(report.failures))
        return report

    def audit_checkpoint(self) -> None:
        """Anchor every audit chain head outside the database (hub/audit_anchors.py)."""
        from hub.audit_anchors import checkpoint_hub

        record = checkpoint_hub(self.hub)
        log.info(
            "audit checkpoint %d: %d invoices, %d events", record["n"], record["invoices"], record["events"]
        )

    # --- the inbound status receiver -----------------------------------------------------------------------
    def start_receiver(self) -> HttpListener | None:
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
            max_concurrent_uploads=settings.max_concurrent_uploads,
            body_timeout_seconds=settings.body_timeout_seconds,
        )
        app = self._listener_app(receiver.app())
        self.receiver = HttpListener(app, settings.host, settings.port, settings.path).start()
        log.info("status receiver listening on %s", self.receiver.url)
        return self.receiver

    def start_listener(self) -> HttpListener | None:
        """The daemon's HTTP listener: the receiver's when there is one, else `/healthz` and `/metrics`
        alone on `listener:` (None when that is turned off)."""
        if self.start_receiver() is not None or not self.hub.config.listener.enabled:
            return self.receiver
        settings = self.hub.config.listener
        self.receiver = HttpListener(
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
        """profile id -> None when it can work, else why not (held, failing, refused, down)."""
        from hub.services import portals_not_working

        health: dict[str, str | None] = dict.fromkeys(self.hub.profiles)
        with self.hub.store.session() as session:
            health.update(portals_not_working(self.hub, session, self.hub.clock.now()))
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

    def run_forever(self, install_signals: bool = True) -> bool:
        """Run the jobs until SIGTERM/SIGINT (or `stop`); True when every job in flight finished within
        `daemon.shutdown_grace_seconds`, False when the daemon stopped waiting for some (the caller exits
        the process anyway: those jobs' threads must not keep it alive)."""
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        # Threads start only when needed: room for profiles added while the daemon runs.
        workers = 4 + 2 * len(self.hub.profiles) + 16
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
            timezone="UTC",
        )
        timing = self.hub.config.daemon
        start = self.hub.clock.now()
        self._add_job(scheduler, "ingest", self.ingest, timing.ingest_seconds)
        self._add_job(scheduler, "housekeeping", self.housekeeping, timing.housekeeping_seconds)
        self._add_job(scheduler, "feedback", self.feedback, timing.feedback_seconds)
        self._add_job(
            scheduler,
            "heartbeat",
            lambda: self.heartbeat.beat(self.hub.clock.now()),
            timing.heartbeat_seconds,
        )
        if self.hub.config.notifications is not None:
            self._add_job(scheduler, "notify", self.notify, self.hub.config.notifications.check_seconds)
        if self.hub.config.audit is not None:
            from hub.audit_anchors import settings

            settings(self.hub)  # a missing or short key stops the start-up, not every tick
            self._add_job(
                scheduler, "audit-checkpoint", self.audit_checkpoint, self.hub.config.audit.checkpoint_seconds
            )
        self._scheduler = scheduler
        self.follow_profiles()
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
            len(self.hub.profiles),
            ", ".join(sorted(self.hub.profiles)),
            self.receiver.url.rsplit("/", 1)[0] if self.receiver else "nothing (listener off)",
        )
        try:
            # Ingest reloads the rules folder in its own thread; the jobs follow within `FOLLOW_SECONDS`.
            while not self.stop.wait(FOLLOW_SECONDS):
                self.follow_profiles()
        finally:
            grace = timing.shutdown_grace_seconds
            log.info("stopping: finishing the requests in flight (at most %g s), starting no new one", grace)
            stopping = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True)
            stopping.start()
            stopping.join(grace)
            self._scheduler = None
            self.stop_receiver()
            if web is not None:
                web.stop()
            try:
                self.heartbeat.stopped(self.hub.clock.now())
            except Exception as exc:  # a store gone at shutdown must not hide why the daemon stopped
                log.warning("could not record the stop in the store: %s", exc)
        if stopping.is_alive():
            running = sorted(self._running)
            log.error("stopped without waiting for job(s) still running after %g s: %s", grace, running)
            return False
        log.info("daemon %s stopped", self.hub.worker_id)
        return True

    def _guarded(self, name: str, func: Any) -> Any:
        def run(*args: Any) -> None:
            if self.stop.is_set():
                return
            self._running.add(name)
            previous = self.jobs.snapshot().get(name)
            self.jobs.started(name, self.hub.clock.now())
            try:
                func(*args)
            except Exception as exc:  # one failing job must not stop the daemon; it runs again next tick
                cause = f"{type(exc).__name__}: {exc}"
                self.jobs.finished(name, self.hub.clock.now(), error=cause)
                if previous is not None and previous.error == cause:
                    log.debug("job %s failed again: %s", name, cause)  # the same failure again is not news
                else:
                    # Once per distinct failure, with its traceback.
                    log.exception("job %s failed (logged once until it changes or the job works)", name)
            else:
                self.jobs.finished(name, self.hub.clock.now())
                if previous is not None and previous.error is not None:
                    log.info("job %s works again", name)
            finally:
                self._running.discard(name)

        run.__qualname__ = run.__name__ = name  # the scheduler's own lines name the job, not the wrapper
        return run
