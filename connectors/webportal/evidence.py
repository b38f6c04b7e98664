"""Evidence: a screenshot and the page's HTML for every submission and every failure, kept under
`<evidence_dir>/<profile>/<invoice>/`, with secrets masked.

What a person typed into a password field is not in the HTML a browser serialises, but a portal may
render values back into `value="..."` attributes, and the one-time code field is plain text on the
screen. So before anything is captured, every password input and every input the recipe marks as a
secret (the sign-in password and the authentication code) is overwritten in the page itself, and the
saved HTML is scrubbed once more of every known secret value.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.base import MASK, redact

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_COUNTER = itertools.count(1)
_MASK_INPUTS = (
    f"""(els) => els.forEach((el) => {{ el.value = {MASK!r}; el.setAttribute("value", {MASK!r}); }})"""
)


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name).strip("._") or "_"


class Evidence:
    """Where one profile's evidence goes, and what must never be in it."""

    def __init__(self, root: Path | None, profile_id: str, secrets: Sequence[str]):
        self.root = root
        self.profile_id = profile_id
        self.secrets = [s for s in secrets if s]

    def folder(self, subject: str) -> Path | None:
        return None if self.root is None else self.root / _safe(self.profile_id) / _safe(subject)

    def capture(
        self, page: Page, subject: str, label: str, secret_inputs: Sequence[Locator] = ()
    ) -> list[Path]:
        """Screenshot + masked HTML of the page now; never raises (evidence must not change an outcome)."""
        folder = self.folder(subject)
        if folder is None:
            return []
        stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}-{next(_COUNTER):04d}-{_safe(label)}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            page.locator("input[type=password]").evaluate_all(_MASK_INPUTS)
            for locator in secret_inputs:
                locator.evaluate_all(_MASK_INPUTS)
            html = redact(page.content(), self.secrets)
            screenshot = folder / f"{stamp}.png"
            page.screenshot(path=str(screenshot), full_page=True, timeout=10_000)
            document = folder / f"{stamp}.html"
            document.write_text(f"<!-- {page.url} -->\n{html}", encoding="utf-8")
        except Exception as exc:
            log.warning("could not keep evidence for %s %s (%s): %s", self.profile_id, subject, label, exc)
            return []
        return [screenshot, document]


def step_screenshot(evidence: Evidence, page: Page, subject: str, label: str) -> Path | None:
    """A screenshot alone, the page left as it is (a walk goes on from it); never raises. Callers take
    none while a secret is typed on the screen."""
    folder = evidence.folder(subject)
    if folder is None:
        return None
    path = folder / f"{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}-{next(_COUNTER):04d}-{_safe(label)[:80]}.png"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True, timeout=10_000)
    except Exception as exc:
        log.warning(
            "could not take a screenshot for %s %s (%s): %s", evidence.profile_id, subject, label, exc
        )
        return None
    return path


def describe(paths: Sequence[Path]) -> str | None:
    """For the attempt record: where the evidence is."""
    return "evidence: " + ", ".join(str(p) for p in paths) if paths else None
