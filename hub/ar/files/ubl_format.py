"""UBL 2.1 Invoice and CreditNote exports (Peppol BIS / EN 16931 style) -> the canonical invoice.

Namespaces urn:oasis:names:specification:ubl:schema:xsd:Invoice-2 / CreditNote-2 with the cac/cbc
component namespaces. The customer is the first of the AccountingCustomerParty's
SupplierAssignedAccountID (the supplier's own customer number), party identifications (`scheme:id`,
then id), endpoint id, company ids or names that the `customers:` settings map; otherwise the
SupplierAssignedAccountID, first party identification or endpoint id as written. The supplier is the
hub's own.

UBL writes credit notes with positive amounts; the canonical credit memo carries negative ones
(quantities, amounts and taxes negated, unit prices kept). Taxes are read per line when lines carry a
TaxTotal, otherwise from the document's TaxSubtotals (the EN 16931 way). Document-level allowances are
discounts, charges are shipping (reason code FC or a freight/shipping reason) or special handling.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree

from hub.ar.files.common import BadValue, strict_date, strict_decimal
from hub.ar.files.settings import FilesSettings
from hub.model import (
    Address,
    Charge,
    ChargeKind,
    Invoice,
    InvoiceLine,
    InvoicePurpose,
    Party,
    PaymentTerms,
    ServicePeriod,
    Supplier,
    TaxLine,
)

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
ROOTS = {f"{{{INVOICE_NS}}}Invoice": "Invoice", f"{{{CREDIT_NOTE_NS}}}CreditNote": "CreditNote"}

#: UNTDID 1001 document types.
_CREDIT = {"381", "396", "532"}
_DEBIT = {"383"}
_INVOICE = {"380", "384", "386", "393", "82", "325", "326", "575", "623", "780"}
_SELF_BILLED = {"389", "261", "527"}


class _Reader:
    def __init__(self, root: etree._Element, settings: FilesSettings, supplier: Supplier):
        self.root = root
        self.settings = settings
        self.supplier = supplier
        self.credit_note = ROOTS[root.tag] == "CreditNote"
        self.currency = self.text(root, "cbc:DocumentCurrencyCode")

    def text(self, node: etree._Element | None, path: str) -> str | None:
        if node is None:
            return None
        found = node.find(path, NS)
        if found is None or found.text is None:
            return None
        value: str = found.text.strip()
        return value or None

    def amount(self, node: etree._Element | None, path: str, required: bool = False) -> Decimal | None:
        found = node.find(path, NS) if node is not None else None
        if found is None or not (found.text or "").strip():
            if required:
                raise BadValue(f"{path} is missing")
            return None
        currency = found.get("currencyID")
        if currency and self.currency and currency != self.currency:
            raise BadValue(f"{path} is in {currency}, the document in {self.currency}")
        return strict_decimal(found.text, path)

    def required(self, node: etree._Element | None, path: str) -> Decimal:
        value = self.amount(node, path, required=True)
        assert value is not None
        return value

    def invoice(self) -> Invoice:
        root = self.root
        number = self.text(root, "cbc:ID")
        if not number:
            raise BadValue("cbc:ID (the invoice number) is missing")
        if not self.currency:
            raise BadValue("cbc:DocumentCurrencyCode is missing")
        purpose = self.purpose()
        # Canonical signs: a credit memo is negative, whatever sign the UBL document uses.
        sign = Decimal(-1) if purpose is InvoicePurpose.CREDIT_MEMO else Decimal(1)
        issue = strict_date(self.text(root, "cbc:IssueDate"), "cbc:IssueDate")
        if issue is None:
            raise BadValue("cbc:IssueDate is missing")
        due = strict_date(
            self.text(root, "cbc:DueDate") or self.text(root, "cac:PaymentMeans/cbc:PaymentDueDate"),
            "cbc:DueDate",
        )
        line_tag = "cac:CreditNoteLine" if self.credit_note else "cac:InvoiceLine"
        line_nodes = root.findall(line_tag, NS)
        if not line_nodes:
            raise BadValue(f"the document has no {line_tag}")
        lines = [self.line(node, position, sign) for position, node in enumerate(line_nodes, 1)]
        tax_total_node = self.tax_total(root)
        tax_total = self.amount(tax_total_node, "cbc:TaxAmount") or Decimal(0)
        header_taxes = (
            [] if any(line.taxes for line in lines) else self.subtotals(tax_total_node, tax_total, sign)
        )
        totals = root.find("cac:LegalMonetaryTotal", NS)
        if totals is None:
            raise BadValue("cac:LegalMonetaryTotal is missing")
        customer_party = root.find("cac:AccountingCustomerParty", NS)
        if customer_party is None or customer_party.find("cac:Party", NS) is None:
            raise BadValue("cac:AccountingCustomerParty/cac:Party (the buyer) is missing")
        buyer = self.party(customer_party.find("cac:Party", NS), "AccountingCustomerParty")
        original = root.find("cac:BillingReference/cac:InvoiceDocumentReference", NS)
        note = "\n".join(n.text.strip() for n in root.findall("cbc:Note", NS) if n.text and n.text.strip())
        extrinsics = {}
        if cost := self.text(root, "cbc:AccountingCost"):
            extrinsics["CostCenter"] = cost
        if reference := self.text(root, "cbc:BuyerReference"):
            extrinsics["BuyerReference"] = reference
        return Invoice(
            invoice_number=number,
            invoice_date=issue,
            due_date=due,
            purpose=purpose,
            currency=self.currency,
            customer_id=self.customer(customer_party),
            po_number=self.text(root, "cac:OrderReference/cbc:ID"),
            contract_number=self.text(root, "cac:ContractDocumentReference/cbc:ID"),
            original_invoice_number=self.text(original, "cbc:ID"),
            original_invoice_date=strict_date(
                self.text(original, "cbc:IssueDate"), "InvoiceDocumentReference/cbc:IssueDate"
            ),
            payment_terms=self.terms(issue, due),
            supplier=self.supplier,
            buyer=buyer,
            ship_to=self.delivery(),
            lines=lines,
            taxes=header_taxes,
            charges=self.charges(sign),
            subtotal=sign * self.required(totals, "cbc:LineExtensionAmount"),
            tax_total=sign * tax_total,
            total=sign * self.required(totals, "cbc:TaxInclusiveAmount"),
            comments=note or None,
            extrinsics=extrinsics,
        )

    def purpose(self) -> InvoicePurpose:
        code_tag = "cbc:CreditNoteTypeCode" if self.credit_note else "cbc:InvoiceTypeCode"
        code = self.text(self.root, code_tag) or ("381" if self.credit_note else "380")
        if code in _SELF_BILLED:
            raise BadValue(
                f"{code_tag} {code} is a self-billed invoice (issued by the buyer); it is not sent"
            )
        if self.credit_note or code in _CREDIT:
            return InvoicePurpose.CREDIT_MEMO
        if code in _DEBIT:
            return InvoicePurpose.DEBIT_MEMO
        if code in _INVOICE:
            return InvoicePurpose.INVOICE
        raise BadValue(f"{code_tag} {code!r} is not an invoice type portalhub sends (380, 383, 384, ...)")

    def tax_total(self, node: etree._Element) -> etree._Element | None:
        # EN 16931 allows a second TaxTotal in the VAT accounting currency: take the document currency's.
        for total in node.findall("cac:TaxTotal", NS):
            amount = total.find("cbc:TaxAmount", NS)
            if amount is not None and amount.get("currencyID") in (None, self.currency):
                return total
        return None

    def subtotals(self, total: etree._Element | None, tax_total: Decimal, sign: Decimal) -> list[TaxLine]:
        if total is None:
            return []
        lines = []
        for subtotal in total.findall("cac:TaxSubtotal", NS):
            category = subtotal.find("cac:TaxCategory", NS)
            scheme = self.text(category, "cac:TaxScheme/cbc:ID") or "VAT"
            code = self.text(category, "cbc:ID")
            taxable = self.amount(subtotal, "cbc:TaxableAmount")
            lines.append(
                TaxLine(
                    category=scheme.lower(),
                    rate_percent=strict_decimal(
                        self.text(category, "cbc:Percent"), "TaxCategory/cbc:Percent"
                    ),
                    taxable_amount=sign * taxable if taxable is not None else None,
                    amount=sign * self.required(subtotal, "cbc:TaxAmount"),
                    description=f"{scheme} {code}" if code else None,
                )
            )
        if not lines and tax_total:
            lines.append(TaxLine(category="vat", amount=sign * tax_total))
        return lines

    def line(self, node: etree._Element, position: int, sign: Decimal) -> InvoiceLine:
        line_id = self.text(node, "cbc:ID") or ""
        where = f"line {line_id or position}"
        if node.find("cac:AllowanceCharge", NS) is not None:
            raise BadValue(
                f"{where} has a line-level allowance or charge: fold it into the line's price, or put it "
                "at document level"
            )
        quantity_tag = "cbc:CreditedQuantity" if self.credit_note else "cbc:InvoicedQuantity"
        quantity_node = node.find(quantity_tag, NS)
        quantity = strict_decimal(
            quantity_node.text if quantity_node is not None else None, f"{where} {quantity_tag}"
        )
        if quantity is None or quantity_node is None:
            raise BadValue(f"{where}: {quantity_tag} is missing")
        price = self.required(node, "cac:Price/cbc:PriceAmount")
        base = strict_decimal(self.text(node, "cac:Price/cbc:BaseQuantity"), f"{where} cbc:BaseQuantity")
        if base:
            price = price / base
        amount = self.required(node, "cbc:LineExtensionAmount")
        item = node.find("cac:Item", NS)
        description = self.text(item, "cbc:Description") or self.text(item, "cbc:Name") or ""
        rate = strict_decimal(self.text(item, "cac:ClassifiedTaxCategory/cbc:Percent"), f"{where} Percent")
        taxes = []
        line_tax = self.amount(node, "cac:TaxTotal/cbc:TaxAmount")
        if line_tax is not None:
            scheme = self.text(item, "cac:ClassifiedTaxCategory/cac:TaxScheme/cbc:ID") or "VAT"
            taxes.append(
                TaxLine(
                    category=scheme.lower(),
                    rate_percent=rate,
                    taxable_amount=sign * amount,
                    amount=sign * line_tax,
                )
            )
        start = strict_date(self.text(node, "cac:InvoicePeriod/cbc:StartDate"), f"{where} StartDate")
        end = strict_date(self.text(node, "cac:InvoicePeriod/cbc:EndDate"), f"{where} EndDate")
        po_line = self.text(node, "cac:OrderLineReference/cbc:LineID")
        return InvoiceLine(
            line_number=int(line_id) if line_id.isdigit() and int(line_id) > 0 else position,
            po_line_number=int(po_line) if po_line and po_line.isdigit() and int(po_line) > 0 else None,
            supplier_part_id=self.text(item, "cac:SellersItemIdentification/cbc:ID"),
            buyer_part_id=self.text(item, "cac:BuyersItemIdentification/cbc:ID"),
            description=description,
            quantity=sign * quantity,
            unit_of_measure=quantity_node.get("unitCode") or "",
            unit_price=price,
            amount=sign * amount,
            taxes=taxes,
            service_period=ServicePeriod(start=start, end=end) if start and end else None,
            cost_center=self.text(node, "cbc:AccountingCost"),
            extrinsics={"LineID": line_id} if line_id and not line_id.isdigit() else {},
        )

    def charges(self, sign: Decimal) -> list[Charge]:
        charges = []
        for node in self.root.findall("cac:AllowanceCharge", NS):
            is_charge = (self.text(node, "cbc:ChargeIndicator") or "").lower() == "true"
            amount = self.required(node, "cbc:Amount")
            reason = self.text(node, "cbc:AllowanceChargeReason")
            code = self.text(node, "cbc:AllowanceChargeReasonCode")
            if not is_charge:
                kind, amount = ChargeKind.DISCOUNT, -amount
            elif code == "FC" or any(
                w in (reason or "").lower() for w in ("freight", "shipping", "delivery")
            ):
                kind = ChargeKind.SHIPPING
            else:
                kind = ChargeKind.SPECIAL_HANDLING
            charges.append(Charge(kind=kind, amount=sign * amount, description=reason))
        return charges

    def identities(self, customer: etree._Element) -> list[str]:
        party = customer.find("cac:Party", NS)
        found: list[str] = []
        if account := self.text(customer, "cbc:SupplierAssignedAccountID"):
            found.append(account)
        for path in (
            "cac:PartyIdentification/cbc:ID",
            "cbc:EndpointID",
            "cac:PartyLegalEntity/cbc:CompanyID",
        ):
            for node in party.findall(path, NS) if party is not None else []:
                if node.text and node.text.strip():
                    if node.get("schemeID"):
                        found.append(f"{node.get('schemeID')}:{node.text.strip()}")
                    found.append(node.text.strip())
        for path in ("cac:PartyName/cbc:Name", "cac:PartyLegalEntity/cbc:RegistrationName"):
            if name := self.text(party, path):
                found.append(name)
        return found

    def customer(self, customer: etree._Element) -> str:
        identities = self.identities(customer)
        mapped = self.settings.customer_for(identities)
        if mapped:
            return mapped
        party = customer.find("cac:Party", NS)
        fallback = (
            self.text(customer, "cbc:SupplierAssignedAccountID")
            or self.text(party, "cac:PartyIdentification/cbc:ID")
            or self.text(party, "cbc:EndpointID")
        )
        if not fallback:
            raise BadValue(
                "the buyer cannot be told: no SupplierAssignedAccountID, PartyIdentification or EndpointID; "
                "map it under `customers:`"
            )
        return fallback

    def party(self, party: etree._Element, where: str) -> Party:
        name = (
            self.text(party, "cac:PartyName/cbc:Name")
            or self.text(party, "cac:PartyLegalEntity/cbc:RegistrationName")
            or ""
        )
        if not name:
            raise BadValue(f"{where} has no PartyName or RegistrationName")
        return Party(
            name=name,
            party_id=self.text(party, "cac:PartyIdentification/cbc:ID") or self.text(party, "cbc:EndpointID"),
            tax_id=self.text(party, "cac:PartyTaxScheme/cbc:CompanyID"),
            email=self.text(party, "cac:Contact/cbc:ElectronicMail"),
            address=self.address(party.find("cac:PostalAddress", NS)),
        )

    def address(self, node: etree._Element | None) -> Address | None:
        if node is None:
            return None
        streets = [
            s
            for s in (
                self.text(node, "cbc:StreetName"),
                self.text(node, "cbc:AdditionalStreetName"),
                *(self.text(line, "cbc:Line") for line in node.findall("cac:AddressLine", NS)),
            )
            if s
        ]
        city, country = self.text(node, "cbc:CityName"), self.text(node, "cac:Country/cbc:IdentificationCode")
        if not (streets and city and country):
            return None  # a partial address is no address for a portal; the party still has its name
        return Address(
            street=streets,
            city=city,
            state=self.text(node, "cbc:CountrySubentity"),
            postal_code=self.text(node, "cbc:PostalZone"),
            country=country,
        )

    def delivery(self) -> Party | None:
        delivery = self.root.find("cac:Delivery", NS)
        if delivery is None:
            return None
        name = self.text(delivery, "cac:DeliveryParty/cac:PartyName/cbc:Name")
        address = self.address(delivery.find("cac:DeliveryLocation/cac:Address", NS))
        if not name:
            return None
        return Party(name=name, party_id=self.text(delivery, "cac:DeliveryLocation/cbc:ID"), address=address)

    def terms(self, issue: date, due: date | None) -> PaymentTerms | None:
        # UBL states terms as text; the net days are what the due date says.
        if due is None or due < issue:
            return None
        notes = [n.text.strip() for n in self.root.findall("cac:PaymentTerms/cbc:Note", NS) if n.text]
        return PaymentTerms(net_days=(due - issue).days, description="; ".join(notes) or None)


def invoice_from_ubl(root: etree._Element, settings: FilesSettings, supplier: Supplier) -> Invoice:
    """The canonical invoice of a parsed UBL Invoice or CreditNote (raises BadValue / ValidationError)."""
    return _Reader(root, settings, supplier).invoice()


def ubl_number(root: etree._Element) -> str | None:
    found = root.find("cbc:ID", NS)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None
