"""The PIDX element writer must write exactly what lxml's pretty printer writes for the same tree:
the goldens, the XSD check and every stored PIDX document depend on it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.errors import MappingError
from mappings.pidx_elements import NSMAP, TRANSACTION_PURPOSE, VERSION, document, leaf, money, node, qname
from mappings.portal_values import plain_decimal

# Everything XML can hold, weighted towards what needs escaping and what looks like indentation.
xml_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("&<>\"'\t\n\r  ]]>;#x")),
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]),
    ).filter(lambda c: c not in "\ufffe\uffff"),
    max_size=25,
)
amounts = st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**6), max_value=10**6)


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    made = etree.SubElement(parent, qname(tag), attributes, nsmap=NSMAP)
    if text is not None:
        made.text = text
    return made


def lxml_version(value: str, attribute: str, amount: object) -> bytes:
    root = etree.Element(
        qname("Invoice"),
        {qname("transactionPurposeIndicator"): "Original", qname("version"): "1.61"},
        nsmap=NSMAP,
    )
    properties = _sub(root, "InvoiceProperties")
    _sub(properties, "InvoiceNumber", value)
    partner = _sub(properties, "PartnerInformation", partnerRoleIndicator=attribute)
    _sub(partner, "PartnerIdentifier", value, partnerIdentifierIndicator="DUNSNumber")
    country = _sub(_sub(partner, "AddressInformation"), "PostalCountry")
    _sub(country, "CountryCode", "US")
    _sub(properties, "Comment", "")
    _sub(properties, "Discounts")
    details = _sub(root, "InvoiceDetails")
    for number in ("1", "2"):
        item = _sub(details, "InvoiceLineItem")
        _sub(item, "LineItemNumber", number)
        _sub(_sub(item, "LineItemTotal"), "MonetaryAmount", plain_decimal(amount))  # type: ignore[arg-type]
    body = etree.tostring(root, encoding="UTF-8", xml_declaration=False, pretty_print=True)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def writer_version(value: str, attribute: str, amount: object) -> bytes:
    partner = node(
        "PartnerInformation",
        {"partnerRoleIndicator": attribute},
        PartnerIdentifier=leaf("PartnerIdentifier", value, {"partnerIdentifierIndicator": "DUNSNumber"}),
        PartnerName=None,
        AddressInformation=node("AddressInformation", PostalCountry=node("PostalCountry", CountryCode="US")),
    )
    properties = node(
        "InvoiceProperties",
        InvoiceNumber=leaf("InvoiceNumber", value),  # written whatever it holds, blank or not
        PartnerInformation=[partner],
        Comment=leaf("Comment", ""),
        Discounts=node("Discounts", DaysDue=None, PercentDiscount="  "),  # nothing to write: empty
    )
    items = [
        node("InvoiceLineItem", LineItemNumber=number, LineItemTotal=money("LineItemTotal", amount))  # type: ignore[arg-type]
        for number in ("1", "2")
    ]
    root = node(
        "Invoice",
        {TRANSACTION_PURPOSE: "Original", VERSION: "1.61"},
        root=True,
        InvoiceProperties=properties,
        InvoiceDetails=node("InvoiceDetails", InvoiceLineItem=items),
    )
    return document(root)


@settings(max_examples=300, deadline=None)
@given(value=xml_text, attribute=xml_text, amount=amounts)
def test_the_writer_writes_what_lxml_pretty_prints(value: str, attribute: str, amount: object) -> None:
    assert writer_version(value, attribute, amount) == lxml_version(value, attribute, amount)


@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\ufffe", "\ud800"])
def test_characters_xml_cannot_hold_name_the_element_not_the_value(bad: str) -> None:
    with pytest.raises(MappingError) as raised:
        node("PartnerInformation", PartnerName=f"Acme{bad}")
    assert "<PartnerName>" in str(raised.value) and "Acme" not in str(raised.value)
    with pytest.raises(MappingError, match="an attribute of <PartnerInformation>"):
        node("PartnerInformation", {"partnerRoleIndicator": f"Seller{bad}"})


def test_an_element_in_another_elements_slot_is_a_renderer_bug() -> None:
    with pytest.raises(ValueError, match="<CityName> given for the <StreetName> slot"):
        node("AddressInformation", StreetName=leaf("CityName", "Houston"))
