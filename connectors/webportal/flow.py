"""Running a recipe's steps: one operation (a list of steps) at a time, in the browser's owner thread.

A step whose element is not there is a `RecipeMismatch` naming the operation, the step and what was
expected (unless the step is `optional`); the portal's own messages (the operation's `errors` target)
showing after a page load, or instead of an element waited for, go to the caller's `refused`, which
turns them into a rejection (or, signing in, an authentication error) with the portal's words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn

from connectors.webportal.errors import RecipeMismatch
from connectors.webportal.recipe import Step, Target
from connectors.webportal.values import portal_value
from hub.errors import TransientPortalError

if TYPE_CHECKING:
    from connectors.webportal.session import PortalSession

#: Called with the step's name and the portal's words when its `errors` show.
Refused = Callable[[str, list[str]], NoReturn]
#: Called after each step that ran (the step's name, what it did): `recipe check` keeps a screenshot.
Observer = Callable[[str, str], None]
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass
class Values:
    """What steps may type: canonical fields (of the header, the current line, or the list's filters),
    placeholders (`{username}`...), and the files to upload."""

    fields: Mapping[str, str] = field(default_factory=dict)
    placeholders: Mapping[str, Callable[[], str]] = field(default_factory=dict)
    files: list[tuple[str, str, bytes]] = field(default_factory=list)  # (name, content type, bytes)


class StepRunner:
    """Runs operations of one recipe on one session's page."""

    def __init__(
        self,
        session: PortalSession,
        errors: Target | None,
        refused: Refused,
        after_load: Callable[[str], None] | None = None,
        observer: Observer | None = None,
    ):
        self.session = session
        self.page = session.page
        self.recipe = session.portal.recipe
        self.errors = errors
        self.refused = refused
        self.after_load = after_load  # instead of the usual check of a loaded page (the submit click's)
        self.observer = observer
        self.typed: set[str] = set()  # placeholders typed so far ("one_time_code": a code was entered)

    def run(
        self, operation: str, steps: list[Step], values: Values, n: int | None = None
    ) -> dict[str, str | None]:
        """Run the steps in order; returns what `read` steps read, by their `into`."""
        reads: dict[str, str | None] = {}
        for index, original in enumerate(steps):
            step = original if n is None else _for_line(original, n)
            name = f"{operation} {index + 1}: {step.describe()}"
            try:
                did = self._one(step, name, values, reads, n)
            except RecipeMismatch as exc:
                if step.optional:
                    if step.into is not None:
                        reads.setdefault(step.into, None)  # an earlier read of the same name stands
                    continue
                if not exc.operation:  # the innermost operation (signing in on the way) names it
                    exc.operation, exc.index = operation, index
                raise
            if did and self.observer is not None:
                self.observer(name, did)
        return reads

    # --- one step --------------------------------------------------------------------------------------
    def _one(
        self, step: Step, name: str, values: Values, reads: dict[str, str | None], n: int | None
    ) -> str | None:
        page = self.page
        if step.when_visible is not None and not page.visible(step.when_visible):
            return None
        if step.when_field is not None and not values.fields.get(step.when_field):
            return None
        timeout = step.timeout_seconds * 1000 if step.timeout_seconds else None
        if step.goto is not None:
            if operation_signs_in(name):
                page.goto(step.goto, name, check=False)
                status = page.browsing.last_document_status
                if status is not None and status >= 500:
                    raise TransientPortalError(
                        f"the portal's sign-in page answered HTTP {status}", http_status=status
                    )
            else:
                self.session.open(step.goto, name)
            self._check_errors(name)
            return f"opened {page.where()}"
        if step.click is not None:
            if step.opens_popup:
                page.open_popup(step.click, name)
                return f"pressed {step.click.describe()}; working in the window it opened"
            if step.loads_page:
                self.session.press(step.click, name)
                self._loaded(name)
                return f"pressed {step.click.describe()}; now at {page.where()}"
            page.click(step.click, name)
            return f"pressed {step.click.describe()}"
        if step.fill is not None:
            text = self._value(step, values, n)
            if text is None:
                return None
            page.fill(step.fill, text, name, timeout)
            return f"typed {self._shown(step, text)} into {step.fill.describe()}"
        if step.select is not None:
            text = self._value(step, values, n)
            if text is None:
                return None
            if step.search is not None:
                page.fill(step.search.fill, text, f"{name} (search)", timeout)
                if step.search.press is not None:
                    if step.search.loads_page:
                        self.session.press(step.search.press, f"{name} (search)")
                        self._loaded(f"{name} (search)")
                    else:
                        page.click(step.search.press, f"{name} (search)")
                self._check_errors(name)
            page.choose(step.select, text, step.by, name, timeout)
            return f"chose {text!r} in {step.select.describe()}"
        if step.upload is not None:
            if not values.files:
                return None
            upload_name, content_type, content = values.files[0]
            page.upload(step.upload, upload_name, content_type, content, name)
            return f"attached {upload_name}"
        if step.wait_for is not None:
            self._wait(step.wait_for, name, timeout)
            return f"saw {step.wait_for.describe()}"
        if step.wait_for_url is not None:
            page.wait_for_url(step.wait_for_url, name, timeout)
            return f"at {page.where()}"
        assert step.read is not None and step.into is not None
        if step.optional:
            if not page.visible(step.read):
                reads.setdefault(step.into, None)  # an earlier read of the same name stands
                return None
        else:
            self._wait(step.read, name, timeout)
        text = page.read(step.read, step.attribute, name)
        if step.pattern is not None:
            found = re.search(step.pattern, text)
            if found is None:
                page.mismatch(name, f"{step.read.describe()} to match {step.pattern!r} (it reads {text!r})")
            text = found.group(1)
        reads[step.into] = text
        return f"read {step.into} = {text!r}"

    def _value(self, step: Step, values: Values, n: int | None) -> str | None:
        if step.field is not None:
            raw = values.fields.get(step.field)
            return None if raw is None else portal_value(self.recipe, step.field, raw)
        assert step.value is not None

        def replace(found: re.Match[str]) -> str:
            key = found[1]
            if key == "n":
                return str(n or "")
            self.typed.add(key)
            return values.placeholders[key]()

        return _PLACEHOLDER.sub(replace, step.value)

    @staticmethod
    def _shown(step: Step, text: str) -> str:
        # Secrets never in the step listing (nor on its screenshot).
        secret = step.value is not None and ("{password}" in step.value or "{one_time_code}" in step.value)
        return "(secret)" if secret else repr(text)

    def _loaded(self, name: str) -> None:
        if self.after_load is not None:
            self.after_load(name)
        else:
            # Signing in, the sign-in page coming back is the portal's answer (its refusal), not an end.
            self.page.check_loaded(name, sign_in_expected=operation_signs_in(name))
        self._check_errors(name)

    def _check_errors(self, name: str) -> None:
        if self.errors is not None and self.page.visible(self.errors):
            self.refused(name, self.page.texts(self.errors))

    def _wait(self, target: Target, name: str, timeout_ms: float | None) -> None:
        targets = {"wanted": target}
        if self.errors is not None:
            targets["errors"] = self.errors
        if self.page.wait_for_one(targets, name, timeout_ms) == "errors":
            self.refused(name, self.page.texts(self.errors) if self.errors else [])


def operation_signs_in(name: str) -> bool:
    return name.startswith("sign_in ")


def _for_line(step: Step, n: int) -> Step:
    data = step.model_dump(exclude_none=True)

    def fill(value: object) -> object:
        if isinstance(value, str):
            return value.replace("{n}", str(n))
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        return value

    for key in ("click", "fill", "select", "upload", "wait_for", "read", "when_visible", "search"):
        if key in data:
            data[key] = fill(data[key])
    if "wait_for_url" in data:
        data["wait_for_url"] = str(data["wait_for_url"]).replace("{n}", str(n))
    return Step.model_validate(data)
