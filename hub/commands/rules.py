"""The rules maintainers' commands (AR operations, one rules file per customer portal, reviewed like
code): `rules check | test | schema | new | suggest`, a web portal's `recipe check | schema`, and
`profile release` for a profile held or failing."""

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from hub.commands import context, output
from hub.commands.context import Command
from hub.commands.output import FOUND, OK, JsonOption, escape

PANEL = "Rules maintainers"
commands = context.group()
rules = context.group(help="Check and explore rules files (one per customer portal).", no_args_is_help=True)
commands.add_typer(rules, name="rules", rich_help_panel=PANEL)
profile = context.group(help="Portal profiles that cannot work: release a hold.", no_args_is_help=True)
commands.add_typer(profile, name="profile", rich_help_panel=PANEL)
recipe = context.group(
    help="Web portals' recipes: try one without sending, or print its schema.", no_args_is_help=True
)
commands.add_typer(recipe, name="recipe", rich_help_panel=PANEL)


@rules.command("check", cls=Command)
def rules_check(
    paths: Annotated[list[Path], typer.Argument(help="Rules files or folders of them.")],
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail the check too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Load and lint rules files: schema, field paths, XPaths, extends, reference lists, secrets by
    reference, routing; warnings for unreachable `when`, rules repeating inherited ones, runaway regexes."""
    from hub.registry import ConnectorRegistry
    from hub.rules_tools import check

    for path in paths:
        if not path.exists():
            output.fail(f"{path} does not exist")
    report = check(paths, ConnectorRegistry(), date.today())
    failed = report.failed(strict)
    if as_json:
        output.emit_json(report.as_json(strict))
    else:
        broken = {str(p.file) for p in report.problems}
        for file in report.files:
            if str(Path(file).resolve()) not in broken and file not in broken:
                output.out.print(f"[green]✓[/green] {escape(file)}")
        for problem in report.problems:
            output.err.print(f"[red]✗[/red] {escape(str(problem))}", highlight=False)
        for warning in report.warnings:
            output.err.print(f"[yellow]![/yellow] {escape(str(warning))}", highlight=False)
        verdict = "[red]problems found[/red]" if failed else "[green]ok[/green]"
        output.out.print(
            f"{len(report.files)} file(s): {len(report.problems)} problem(s), {len(report.warnings)} warning(s): {verdict}"
        )
    raise typer.Exit(FOUND if failed else OK)


@rules.command("schema", cls=Command)
def rules_schema(
    baseline: Annotated[
        bool, typer.Option("--baseline", help="The schema of a baseline (no connection).")
    ] = False,
) -> None:
    """Print the JSON Schema of a rules file, for editors (yaml-language-server, IDE schema mapping):
    every key described with an example, field paths completed, `connection:` typed per connector."""
    from hub.registry import ConnectorRegistry
    from hub.rules_schema import rules_schema

    schema = rules_schema(ConnectorRegistry(), baseline)
    sys.stdout.write(json.dumps(schema, indent=2) + "\n")


@rules.command("test", cls=Command)
def rules_test(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Rules files or folders (default: the shipped baselines).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the `examples:` of rules files: each invoice must pass and fail the rules it names."""
    from hub.registry import ConnectorRegistry
    from hub.rules_tools import examples_as_json, run_tests, shipped_rule_folders

    results = run_tests(paths or shipped_rule_folders(), ConnectorRegistry())
    failed = [r for r in results if not r.passed]
    if as_json:
        output.emit_json(examples_as_json(results))
    else:
        for result in results:
            mark = "[green]✓[/green]" if result.passed else "[red]✗[/red]"
            at = f"{Path(result.file).name}:{result.line}" if result.line else Path(result.file).name
            output.out.print(f"{mark} {escape(at)}: {escape(result.name)}")
            for problem in result.problems:
                output.out.print(f"    {escape(problem)}")
        output.out.print(f"{len(results)} example(s), {len(failed)} failed")
    raise typer.Exit(FOUND if failed or not results else OK)


@rules.command("new", cls=Command)
def rules_new(
    connector: Annotated[
        str, typer.Option("--connector", help="The connector of the portal (coupa, ariba, ...).")
    ],
    customer: Annotated[str, typer.Option("--customer", help="The AR customer id the file routes.")],
    into: Annotated[
        Path | None,
        typer.Option("--out", help="The folder to write to (default: the hub's rules folder, else here)."),
    ] = None,
) -> None:
    """Write a commented rules file for a new customer: the family's baseline, the connection keys with
    placeholders and secret references, one example invoice from AR (when a hub config is found)."""
    from hub.errors import ConfigError
    from hub.registry import ConnectorRegistry
    from hub.rules_new import ar_example, family_baseline, new_rules_file

    invoice = None
    folder = into
    try:
        context.config_path()
        has_hub = True
    except ConfigError:
        has_hub = False
    if has_hub:
        with context.opened_hub() as hub:
            invoice = ar_example(hub, customer, family_baseline(hub.registry, connector))
            folder = folder or Path(hub.config.rules_dir)
    try:
        made = new_rules_file(ConnectorRegistry(), connector, customer, folder or Path.cwd(), invoice)
    except ConfigError as exc:
        output.fail(str(exc))
    written = [made.path, *([made.example[0]] if made.example else [])]
    existing = [p for p in written if p.exists()]
    if existing:
        output.fail(f"{existing[0]} exists already; pass --out to write elsewhere")
    made.path.parent.mkdir(parents=True, exist_ok=True)
    made.path.write_text(made.text, encoding="utf-8")
    if made.example:
        made.example[0].parent.mkdir(parents=True, exist_ok=True)
        made.example[0].write_text(made.example[1], encoding="utf-8")
    for path in written:
        output.out.print(f"wrote {escape(str(path))}")
    if invoice is None:
        output.out.print("no AR invoice of this customer found: add an example invoice by hand")
    output.out.print(f"next: replace the placeholders, then `portalhub rules check {escape(str(made.path))}`")


@rules.command("suggest", cls=Command)
def rules_suggest(
    profile: Annotated[
        str, typer.Option("--profile", help="The profile whose portal rejections to learn from.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Propose rules that would have caught this portal's rejections before sending (never applied)."""
    from hub.rules_tools import suggest_for

    with context.opened_hub() as hub:
        report = suggest_for(hub, profile)
    if as_json:
        output.emit_json(report.as_json())
        return
    out = output.out
    share = report.caught_share
    caught = f"{share:.0%}" if share is not None else "n/a"
    out.print(
        f"[bold]{profile}[/bold]: pre-flight caught {report.blocked_before_sending}, the portal rejected "
        f"{report.rejected_by_portal} (pre-flight share {caught}). Suggestions, to review and add by hand:"
    )
    for number, suggestion in enumerate(report.suggestions, 1):
        out.print(
            f"\n[bold]{number}. {escape(suggestion.title)}[/bold] ({suggestion.category}, {suggestion.count} invoice(s))"
        )
        for invoice_number, words in suggestion.evidence[:5]:
            out.print(f"   {escape(invoice_number)}: {escape(words)}")
        if len(suggestion.evidence) > 5:
            out.print(f"   ... and {len(suggestion.evidence) - 5} more")
        said = "; ".join(f"{escape(w)} ({n})" for w, n in suggestion.wordings.items())
        out.print(f"   [dim]recognised as: {said}[/dim]")
        out.print(escape(suggestion.snippet))
        if suggestion.reference_file:
            name, values = suggestion.reference_file
            out.print(f"# {name}: {', '.join(values) or '(no accepted values yet)'}")


@profile.command("release", cls=Command)
def profile_release(
    profile_id: Annotated[str, typer.Argument(help="The profile id (its rules file name).")],
) -> None:
    """End a profile's hold (a recipe out of date, a broken or contested rules file) or failure now: its
    invoices are tried at the next tick. If the cause is still there, the profile is held again."""
    from hub.corrections import cli_actor
    from hub.services import release_profile

    with context.opened_hub() as hub:
        before = release_profile(hub, profile_id, cli_actor())
    if before is None:
        output.out.print(f"profile {escape(profile_id)} was not held or failing: nothing to release")
        return
    output.out.print(f"profile {escape(profile_id)} released (it was {escape(before.describe())})")


@recipe.command("check", cls=Command)
def recipe_check(
    profile: Annotated[str, typer.Argument(help="The web-portal profile id.")],
    connect: Annotated[bool, typer.Option("--connect", help="Walk the portal's pages in Chromium.")] = False,
    invoice: Annotated[
        str | None,
        typer.Option("--invoice", help="Invoice number to key in (default: the profile's newest)."),
    ] = None,
    submit_sandbox: Annotated[
        bool, typer.Option("--submit-sandbox", help="Press submit too (only a portal on this machine).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Sign in, fill the form with an invoice up to (not including) submit, read the list; each step
    printed with its screenshot. Nothing is sent, unless --submit-sandbox against a local sandbox."""
    from hub.recipe_check import check_recipe

    with context.opened_hub() as hub:
        result = check_recipe(hub, profile, invoice, connect or submit_sandbox, submit_sandbox)
    walk = result.walk
    if as_json:
        output.emit_json(result.as_json())
        raise typer.Exit(OK if result.ok else FOUND)
    output.out.print(f"{escape(profile)} with invoice {escape(result.invoice_number)}")
    for step in walk.steps if walk else []:
        mark = "[green]✓[/green]" if step.ok else "[red]✗[/red]"
        output.out.print(
            f"{mark} {escape(step.step)}: {escape(step.did)}"
            + (f"\n    {escape(step.screenshot)}" if step.screenshot else "")
        )
    if walk is not None and walk.submitted is not None:
        output.out.print(
            f"submitted to the sandbox: portal id {escape(str(walk.submitted.portal_invoice_id))}"
        )
    problem = result.problem or (walk.problem if walk else None)
    if problem:
        output.err.print(f"[red]✗[/red] {escape(problem)}", highlight=False)
    elif walk is None:
        output.out.print("the invoice renders for this portal; add --connect to walk the pages")
    raise typer.Exit(OK if result.ok else FOUND)


@recipe.command("schema", cls=Command)
def recipe_schema() -> None:
    """Print the JSON Schema of a recipe file, for editors (yaml-language-server, IDE schema mapping)."""
    from hub.recipe_check import recipe_schema as schema
    from hub.registry import ConnectorRegistry

    sys.stdout.write(json.dumps(schema(ConnectorRegistry()), indent=2) + "\n")
