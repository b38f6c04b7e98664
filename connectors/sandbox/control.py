"""`/_sandbox/...`: the control and inspection endpoints every sandbox portal answers the same way, for
people exploring the demo by hand (`curl`) and for tests in another process.

- `GET invoices`: everything the portal holds, as the family shows it;
- `GET received`: the receipt log (every document that reached the portal, with what became of it);
- `POST clock {"hours": n}`: move the portal's clock (buyers approve, dispute, pay);
- `POST faults {"clear": true, "queue": [kind, ...], "rates": {kind: rate}, "path_prefix": "..."}`;
- whatever else a family adds (`extra`: name -> rows), e.g. Ariba's push `deliveries`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from connectors.sandbox.server import Reply, Request, SandboxServer


def control_reply(
    request: Request,
    parts: list[str],
    *,
    invoices: Callable[[], list[dict[str, Any]]],
    advance: Callable[[float], datetime],
    server: SandboxServer | None,
    fault_path: str = "",
    extra: Mapping[str, Callable[[], Any]] | None = None,
) -> Reply:
    """The answer to `/_sandbox/<parts>`; `fault_path` is where queued faults land unless told."""
    body: Any
    if parts == ["invoices"]:
        body = invoices()
    elif parts == ["received"] and server is not None:
        body = [{**vars(r), "at": r.at.isoformat(), "created": r.created} for r in server.receipts()]
    elif parts == ["clock"] and request.method == "POST":
        hours = float(json.loads(request.body or b"{}").get("hours", 0))
        body = {"now": advance(hours).isoformat()}
    elif parts == ["faults"] and request.method == "POST" and server is not None:
        spec = json.loads(request.body or b"{}")
        prefix = spec.get("path_prefix", fault_path)
        if spec.get("clear"):
            server.faults.clear()
        if spec.get("rates"):
            server.faults.set_rates(spec["rates"], prefix)
        for kind in spec.get("queue", []):
            server.faults.queue(kind, path_prefix=prefix)
        body = {}
    elif len(parts) == 1 and extra and parts[0] in extra:
        body = extra[parts[0]]()
    else:
        return Reply(404, b"no such control")
    return Reply(200, json.dumps(body).encode(), "application/json")
