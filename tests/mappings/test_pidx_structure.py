"""The PIDX structure check finds each way a document can depart from the element order and content
models of mappings/pidx_structure.py (the order refs/PORTALS.md gives)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree

from mappings.pidx_invoice import PartyIdentifier, PidxEnvelope, render_tree
from mappings.pidx_structure import CONTENT, PIDX_NS, VERSION, structure_problems
from tests.connectors.openinvoice_support import oil_invoice

NS = {"p": PIDX_NS}


def document() -> etree._Element:
    return render_tree(
        oil_invoice("INV-S-1"), PidxEnvelope("INV-S-1", PartyIdentifier("1"), PartyIdentifier("2"))
    )


def first(root: etree._Element, path: str) -> etree._Element:
    found = root.xpath(path, namespaces=NS)
    assert found, path
    return found[0]


def move_currency_first(root: etree._Element) -> None:
    properties = first(root, "p:InvoiceProperties")
    properties.insert(0, first(properties, "p:PrimaryCurrency"))


def drop_invoice_date(root: etree._Element) -> None:
    date = first(root, "p:InvoiceProperties/p:InvoiceDate")
    date.getparent().remove(date)


def add_unknown(root: etree._Element) -> None:
    etree.SubElement(first(root, "p:InvoiceProperties"), f"{{{PIDX_NS}}}FavouriteColour").text = "blue"


def add_foreign(root: etree._Element) -> None:
    first(root, "p:InvoiceSummary").append(etree.Element("{urn:other}TotalLineItems"))


def empty_leaf(root: etree._Element) -> None:
    first(root, "p:InvoiceProperties/p:InvoiceNumber").text = "  "


def second_total(root: etree._Element) -> None:
    summary = first(root, "p:InvoiceSummary")
    summary.insert(2, etree.fromstring(etree.tostring(first(summary, "p:InvoiceTotal"))))


def no_role(root: etree._Element) -> None:
    del first(root, "p:InvoiceProperties/p:PartnerInformation").attrib["partnerRoleIndicator"]


def text_in_container(root: etree._Element) -> None:
    first(root, "p:InvoiceSummary").text = "stray"


def child_in_leaf(root: etree._Element) -> None:
    etree.SubElement(first(root, "p:InvoiceProperties/p:InvoiceNumber"), f"{{{PIDX_NS}}}Extra").text = "x"


def no_lines(root: etree._Element) -> None:
    details = first(root, "p:InvoiceDetails")
    for item in list(details):
        details.remove(item)


def wrong_version(root: etree._Element) -> None:
    root.set(VERSION, "1.0")


def line_out_of_order(root: etree._Element) -> None:
    item = first(root, "p:InvoiceDetails/p:InvoiceLineItem")
    item.append(first(item, "p:LineItemNumber"))


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (move_currency_first, "<InvoiceNumber> is out of order"),
        (drop_invoice_date, "<InvoiceDate> is required"),
        (add_unknown, "<FavouriteColour> is not allowed"),
        (add_foreign, "not in the PIDX 1.61 namespace"),
        (empty_leaf, "<InvoiceNumber> is empty"),
        (second_total, "<InvoiceTotal> may appear at most 1"),
        (no_role, "attribute partnerRoleIndicator is required"),
        (text_in_container, "holds elements only"),
        (child_in_leaf, "holds text only"),
        (no_lines, "<InvoiceLineItem> is required"),
        (wrong_version, "pidx:version must be '1.61'"),
        (line_out_of_order, "is out of order"),
    ],
)
def test_each_departure_is_found_and_named(damage: Callable[[etree._Element], None], words: str) -> None:
    root = document()
    assert structure_problems(root) == []
    damage(root)
    problems = structure_problems(root)
    assert any(words in problem for problem in problems), problems


def test_a_problem_names_where_it_is() -> None:
    root = document()
    line_out_of_order(root)
    assert any(p.startswith("Invoice/InvoiceDetails/InvoiceLineItem:") for p in structure_problems(root))


def test_another_root_is_refused_at_once() -> None:
    assert structure_problems(etree.fromstring(b"<cXML/>")) == [
        f"the root element is <cXML>, not <pidx:Invoice> in {PIDX_NS}"
    ]


def test_the_content_models_follow_portals_md() -> None:
    """The orders refs/PORTALS.md writes down, checked against the data the renderer and sandbox use."""

    def names(element: str) -> list[str]:
        return [slot.name for slot in CONTENT[element]]

    def in_order(element: str, expected: list[str]) -> None:
        model = names(element)
        assert [model.index(name) for name in expected] == sorted(model.index(name) for name in expected)

    in_order(
        "InvoiceProperties",
        ["InvoiceNumber", "InvoiceDate", "PartnerInformation", "InvoiceTypeCode", "RevisionNumber",
         "PurchaseOrderInformation", "FieldTicketInformation", "PrimaryCurrency", "PaymentTerms",
         "ReferenceInformation", "Attachment", "Comment"],
    )  # fmt: skip
    in_order(
        "InvoiceLineItem",
        ["LineItemNumber", "InvoiceQuantity", "LineItemInformation", "PurchaseOrderLineItemNumber",
         "FieldTicketLineItemNumber", "Pricing", "AllowanceOrCharge", "Tax", "LineItemTotal", "ServiceDateTime",
         "ReferenceInformation"],
    )  # fmt: skip
    in_order(
        "InvoiceSummary", ["TotalLineItems", "InvoiceTotal", "AllowanceOrCharge", "Tax", "SubTotalAmount"]
    )
    assert names("Invoice") == ["InvoiceProperties", "InvoiceDetails", "InvoiceSummary"]
    required = {slot.name for slot in CONTENT["InvoiceProperties"] if slot.min}
    assert required == {"InvoiceNumber", "InvoiceDate"}
