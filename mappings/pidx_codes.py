"""The canonical model's values on PIDX 1.61's code lists (the enumerations of
SCHEMA_PIDX_1.61_Invoice.xsd), in one place; docs/pidx.md explains each choice.

The schema's lists are closed: a value outside them makes the document invalid, so every code the
renderer writes comes from these tables, and a canonical value with no PIDX code is a MappingError
that names it (never a guessed `Other`).
"""

from __future__ import annotations

from hub.errors import MappingError
from hub.model import ChargeKind, InvoicePurpose

#: PIDX 1.61 TaxTypeCode (the schema's TaxTypeCodeType) by canonical tax category, lower case. A US
#: "sales" tax line is the combined state and local rate; HST is the harmonised GST; PIDX has no use-tax
#: code, so a use tax is a mapping error a person resolves (docs/pidx.md). The schema's own codes are
#: accepted as categories too (`TAX_TYPE_CODES_PIDX`).
TAX_TYPE_CODES = {
    "sales": "StateAndLocalSalesTax",
    "state": "StateSalesTax",
    "state_sales": "StateSalesTax",
    "city": "CitySalesTax",
    "city_sales": "CitySalesTax",
    "county": "CountyTax",
    "county_parish_sales": "CountyParishSalesTax",
    "local": "LocalTax",
    "transit": "MetropolitanTransitTax",
    "excise": "FederalExciseTax",
    "federal_excise": "FederalExciseTax",
    "gross_receipts": "GrossReceiptsTax",
    "well_service": "WellServiceTax",
    "vat": "ValueAddedTax",
    "gst": "GoodsAndServicesTax",
    "hst": "GoodsAndServicesTax",
    "pst": "StateProvincialTax",
    "qst": "StateProvincialTax",
}
#: The schema's TaxTypeCodeType without "Other" (a code that says nothing is never chosen for the user).
TAX_TYPE_CODES_PIDX = (
    "CountyParishSalesTax",
    "CitySalesTax",
    "CountyTax",
    "FederalExciseTax",
    "GrossReceiptsTax",
    "GoodsAndServicesTax",
    "LocalTax",
    "StateAndLocalSalesTax",
    "MetropolitanTransitTax",
    "StateProvincialTax",
    "StateSalesTax",
    "ValueAddedTax",
    "WellServiceTax",
)
#: A standard invoice carries no InvoiceTypeCode, as in OpenInvoice's own examples.
INVOICE_TYPE_CODES = {
    InvoicePurpose.CREDIT_MEMO: "CreditMemo",
    InvoicePurpose.DEBIT_MEMO: "DebitMemo",
}
#: (allowanceOrChargeIndicator, AllowanceOrChargeTypeCode) by charge kind (AllowanceOrChargeTypeCodeType).
CHARGE_CODES = {
    ChargeKind.SHIPPING: ("Charge", "Freight"),
    ChargeKind.SPECIAL_HANDLING: ("Charge", "SpecialHandlingService"),
    ChargeKind.DISCOUNT: ("Allowance", "Discount"),
}
#: referenceInformationIndicator by canonical line field (ReferenceInformationIndicatorType).
LINE_REFERENCES = (
    ("afe_number", "AFENumber"),
    ("cost_center", "CostCenter"),
)
#: The AR header's cost center arrives as this extrinsic (hub/ar/sql.py).
COST_CENTER_EXTRINSIC = "CostCenter"
#: ContactInformation@contactInformationIndicator has no accounts-payable/receivable code: the attribute
#: is left out and the role is said in ContactDescription.
AR_CONTACT = "Accounts Receivable"
AP_CONTACT = "Accounts Payable"


def tax_type_code(category: str) -> str:
    """The PIDX TaxTypeCode of a canonical tax category; MappingError naming it when PIDX has none."""
    code = TAX_TYPE_CODES.get(category.strip().lower())
    if code is not None:
        return code
    for pidx_code in TAX_TYPE_CODES_PIDX:
        if pidx_code.lower() == category.strip().lower():
            return pidx_code
    raise MappingError(
        f"tax category {category!r} has no PIDX 1.61 TaxTypeCode (known: "
        f"{', '.join(sorted(TAX_TYPE_CODES))}, or a PIDX code such as StateSalesTax); "
        "correct the tax category in the AR system"
    )
