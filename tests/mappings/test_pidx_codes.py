"""Every code mappings/pidx_codes.py can write is in the official schema's code list (read from
SCHEMA_PIDX_1.61_Invoice.xsd itself), and the schema's tax codes are all reachable."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from mappings.pidx_codes import (
    CHARGE_CODES,
    INVOICE_TYPE_CODES,
    LINE_REFERENCES,
    TAX_TYPE_CODES,
    TAX_TYPE_CODES_PIDX,
    tax_type_code,
)

XS = {"xsd": "http://www.w3.org/2001/XMLSchema"}


@pytest.fixture(scope="module")
def code_lists(pidx_invoice_xsd_path: Path) -> dict[str, set[str]]:
    schema = etree.parse(str(pidx_invoice_xsd_path))
    return {
        simple.get("name"): set(simple.xpath(".//xsd:enumeration/@value", namespaces=XS))
        for simple in schema.xpath("//xsd:simpleType[@name]", namespaces=XS)
    }


def test_tax_type_codes_are_the_schemas(code_lists: dict[str, set[str]]) -> None:
    allowed = code_lists["TaxTypeCodeType"]
    assert set(TAX_TYPE_CODES.values()) <= allowed
    # Every code of the schema but "Other" can be asked for by name.
    assert set(TAX_TYPE_CODES_PIDX) == allowed - {"Other"}
    assert {tax_type_code(code.upper()) for code in TAX_TYPE_CODES_PIDX} == allowed - {"Other"}


def test_charge_invoice_type_and_reference_codes_are_the_schemas(code_lists: dict[str, set[str]]) -> None:
    assert {indicator for indicator, _ in CHARGE_CODES.values()} <= code_lists[
        "AllowanceOrChargeIndicatorType"
    ]
    assert {code for _, code in CHARGE_CODES.values()} <= code_lists["AllowanceOrChargeTypeCodeType"]
    assert set(INVOICE_TYPE_CODES.values()) <= code_lists["InvoiceTypeCodeType"]
    references = {indicator for _, indicator in LINE_REFERENCES} | {
        "ContractNumber",
        "OriginalInvoiceNumber",
        "Other",
    }
    assert references <= code_lists["ReferenceInformationIndicatorType"]
