"""For whoever connects an AR system to portalhub: the JSON Schema of an invoice export
(`schema invoice`) and the webhooks' signatures (`webhook verify`, or `--sample` for a signed test
event) (docs/ar-adapters.md)."""

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from hub.commands import context, output
from hub.commands.context import Command
from hub.commands.output import FOUND, JsonOption, escape

PANEL = "Operators"
commands = context.group()
schema = context.group(help="JSON Schemas of what portalhub reads from AR systems.", no_args_is_help=True)
commands.add_typer(schema, name="schema", rich_help_panel=PANEL)
webhook = context.group(
    help="portalhub's webhooks (AR status events, notification digests): check a signature, or make a "
    "signed test event.",
    no_args_is_help=True,
)
commands.add_typer(webhook, name="webhook", rich_help_panel=PANEL)


@schema.command("invoice", cls=Command)
def schema_invoice() -> None:
    """Print the JSON Schema of an invoice in a JSON export (files adapter, docs/ar-adapters.md)."""
    from hub.ar.files import invoice_json_schema

    sys.stdout.write(json.dumps(invoice_json_schema(), indent=2) + "\n")


@webhook.command("verify", cls=Command)
def webhook_verify(
    signature: Annotated[
        str | None, typer.Option("--signature", help="The X-Portalhub-Signature header received.")
    ] = None,
    timestamp: Annotated[
        str | None, typer.Option("--timestamp", help="The X-Portalhub-Timestamp header received.")
    ] = None,
    body: Annotated[
        Path | None, typer.Option("--body", help="The exact body received, in a file ('-': standard input).")
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            help="The signing secret by reference: env:NAME, file:/path, secret:name "
            "(default: the configured webhook's).",
        ),
    ] = None,
    tolerance: Annotated[int, typer.Option(min=1, help="Replay window in seconds.")] = 300,
    sample: Annotated[
        bool, typer.Option("--sample", help="Print a signed test event instead (body and headers).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Check a webhook signature (exit 0 valid, 1 not), or with --sample print a test event and its
    signature headers, for testing the receiving side."""
    import time

    from hub.ar.webhook import sample as signed_sample
    from hub.ar.webhook import signing_secret
    from hub.config import load_config
    from hub.errors import ConfigError
    from hub.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, verify

    try:
        key = signing_secret(secret, lambda: load_config(context.config_path()))
    except ConfigError as exc:
        output.fail(str(exc))
    now = time.time()
    if sample:
        event, content, headers = signed_sample(key, now)
        if as_json:
            output.emit_json({"event": event, "body": content.decode(), "headers": headers})
        else:
            lines = "".join(f"{name}: {value}\n" for name, value in headers.items())
            sys.stdout.write(f"{content.decode()}\n{lines}")
        return
    if signature is None or timestamp is None or body is None:
        output.fail("give --timestamp, --signature and --body (or --sample to make a signed test event)")
    content = sys.stdin.buffer.read() if str(body) == "-" else _read_bytes(body)
    try:
        # Either the header's value or the whole `Name: value` line, as copied from a request log.
        signed_at = verify(
            key,
            content,
            timestamp.removeprefix(f"{TIMESTAMP_HEADER}:"),
            signature.removeprefix(f"{SIGNATURE_HEADER}:"),
            now,
            tolerance,
        )
    except SignatureError as exc:
        if as_json:
            output.emit_json({"valid": False, "reason": str(exc)})
        else:
            output.err.print(f"[red]invalid:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(FOUND) from None
    if as_json:
        output.emit_json({"valid": True, "signed_at": signed_at})
    else:
        output.out.print(
            f"[green]valid[/green]: signed at {datetime.fromtimestamp(signed_at, UTC).isoformat()}"
        )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        output.fail(f"cannot read {path}: {exc.strerror}")
