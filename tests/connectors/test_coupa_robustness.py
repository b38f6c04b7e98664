"""What a long-running poller needs: a bad record does not stop polling, the cursor never moves
backwards, and a wrong API URL is reported as configuration."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from connectors.sandbox.server import Reply, Request, SandboxServer
from hub.errors import ConfigError
from tests.connectors.support import make_connector, write_profile
from tests.factories import T0


def _api(records: list[dict[str, object]], status: int = 200):  # type: ignore[no-untyped-def]
    def handle(request: Request) -> Reply:
        if request.path == "/oauth2/token":
            return Reply(
                200, json.dumps({"access_token": "t", "expires_in": 3600}).encode(), "application/json"
            )
        return Reply(status, json.dumps(records).encode(), "application/json")

    return handle


GOOD = {
    "id": 1,
    "invoice-number": "INV-1",
    "status": "approved",
    "updated-at": (T0 + timedelta(hours=1)).isoformat(),
}
BROKEN = {"id": 2, "invoice-number": "INV-2", "status": "approved", "updated-at": "yesterday"}


def test_an_unreadable_record_is_skipped_and_reported_not_fatal(tmp_path: Path) -> None:
    with SandboxServer(_api([BROKEN, GOOD])) as server, httpx.Client(timeout=2) as http:
        profile = write_profile(tmp_path, server.url)
        result = make_connector(http).poll(profile, T0.isoformat())
    assert [u.invoice_number for u in result.updates] == ["INV-1"]
    assert (
        len(result.unreadable) == 1
        and "record 2" in result.unreadable[0]
        and "yesterday" in result.unreadable[0]
    )
    assert result.next_cursor == GOOD["updated-at"]


def test_the_overlap_never_moves_the_cursor_backwards(tmp_path: Path) -> None:
    with SandboxServer(_api([GOOD])) as server, httpx.Client(timeout=2) as http:
        profile = write_profile(tmp_path, server.url, api={"overlap_seconds": 7200})
        later = (T0 + timedelta(hours=1, minutes=30)).isoformat()
        result = make_connector(http).poll(profile, later)  # the overlap re-reads GOOD, which is older
    assert result.next_cursor == later


@pytest.mark.parametrize("status", [400, 404, 405])
def test_a_wrong_api_url_is_a_configuration_error(tmp_path: Path, status: int) -> None:
    with SandboxServer(_api([], status)) as server, httpx.Client(timeout=2) as http:
        profile = write_profile(tmp_path, server.url)
        with pytest.raises(ConfigError, match=f"HTTP {status}"):
            make_connector(http).poll(profile, None)
