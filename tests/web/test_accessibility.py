"""Pages a keyboard and a screen reader can use, and that need no script: every form control has a
label, every image a text, one h1, the language set, no <script> at all (the browser tests also run
with JavaScript off)."""

from __future__ import annotations

from lxml import html

from tests.web.conftest import Served

PAGES = (
    "/worklist",
    "/worklist?category=po",
    "/invoices/INV-24016",
    "/invoices/INV-24016/cancel",
    "/status",
    "/quarantine",
    "/admin/users",
)


def _problems(page: str) -> list[str]:
    tree = html.fromstring(page)
    found = []
    if tree.get("lang") != "en":
        found.append("no lang on <html>")
    if len(tree.xpath("//h1")) != 1:
        found.append("not exactly one h1")
    if tree.xpath("//script"):
        found.append("a script")
    labelled = {label.get("for") for label in tree.xpath("//label[@for]")}
    for control in tree.xpath("//input[not(@type='hidden')] | //select | //textarea"):
        inside_label = bool(control.xpath("ancestor::label"))
        if control.get("id") not in labelled and not inside_label:
            found.append(f"unlabelled {control.tag} {control.get('name')}")
    for button in tree.xpath("//button"):
        if not button.text_content().strip():
            found.append("a button without text")
    found += [f"image without alt: {img.get('src')}" for img in tree.xpath("//img[not(@alt)]")]
    found += ["an empty link" for a in tree.xpath("//a") if not a.text_content().strip()]
    return found


def test_every_page_is_labelled_and_script_free(served: Served) -> None:
    with served.api(None) as anonymous:
        assert _problems(anonymous.get("/login").text) == []
    with served.login("ada") as browser:
        for path in PAGES:
            answer = browser.get(path)
            assert answer.status_code == 200, path
            assert _problems(answer.text) == [], path
            assert "script-src 'self'" in answer.headers["content-security-policy"]
