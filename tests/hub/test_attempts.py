"""The portal's lease that every request to a portal holds (a send, a cancel): one worker at a time, a
second one waits as long as it was told to and then gives up."""

from __future__ import annotations

import time
from pathlib import Path

from hub.pipeline.attempts import portal_lease, release_portal_lease, take_portal_lease
from tests.factories import make_hub


def test_one_worker_at_a_time_talks_to_a_portal(tmp_path: Path) -> None:
    first = make_hub(tmp_path, "http://127.0.0.1:1", worker_id="w1")
    second = make_hub(tmp_path, "http://127.0.0.1:1", worker_id="w2")  # another daemon, the same store
    try:
        assert take_portal_lease(first, "acme-coupa")
        assert take_portal_lease(first, "acme-coupa")  # renewing one's own lease
        started = time.monotonic()
        assert not take_portal_lease(second, "acme-coupa", wait_seconds=0.6)
        assert time.monotonic() - started >= 0.5  # it waited before giving up
        assert take_portal_lease(second, "other-portal")  # another portal is free
        release_portal_lease(second, "acme-coupa")  # not its lease: changes nothing
        assert not take_portal_lease(second, "acme-coupa")
        release_portal_lease(first, "acme-coupa")
        assert take_portal_lease(second, "acme-coupa")
        assert portal_lease("acme-coupa") == "submit:acme-coupa"  # the lease submission holds too
    finally:
        first.close()
        second.close()
