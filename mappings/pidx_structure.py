"""The structure of a PIDX 1.61 `Invoice` as portalhub writes it, written down once, as data.

`CONTENT` is the single source of element order: the renderer (`mappings.pidx_invoice`) appends
children in this order, the sandbox portal and pre-flight check documents against it
(`structure_problems`). Sources, in order of authority:

1. refs/PORTALS.md, "OpenInvoice ... PIDX": the order of InvoiceProperties (InvoiceNumber, InvoiceDate,
   PartnerInformation*, InvoiceTypeCode?, RevisionNumber?, PurchaseOrderInformation?,
   FieldTicketInformation?, PrimaryCurrency?, ..., PaymentTerms?, ReferenceInformation*, Attachment*,
   Comment?), of InvoiceLineItem (LineItemNumber, InvoiceQuantity, LineItemInformation,
   PurchaseOrderLineItemNumber?, FieldTicketLineItemNumber?, ..., Pricing?, AllowanceOrCharge*, Tax*,
   LineItemTotal?, ServiceDateTime*, ReferenceInformation*, ...) and of InvoiceSummary (TotalLineItems,
   InvoiceTotal, AllowanceOrCharge*, Tax*, SubTotalAmount*, ...);
2. public PIDX invoices sent to OpenInvoice, for the sub-structures PORTALS.md does not spell out
   (PartnerInformation, ReferenceInformation/ReferenceNumber, JobLocationInformation/WellInformation,
   PaymentTerms/TermsNetDays, Attachment/AttachmentLocation, MonetaryAmount);
3. where neither says (the places PORTALS.md marks "..."), this project's choice, marked `# ours`.

This is a subset of PIDX: an element outside it is refused, as a schema would refuse it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

PIDX_NS = "http://www.pidx.org/schemas/v1.61"
PIDX_VERSION = "1.61"
#: Older OpenInvoice integrations (pidXML 1.0); responses in it are read, documents are never written in it.
PIDX_NS_LEGACY = "http://www.api.org/pidXML/v1.0"
NSMAP = {"pidx": PIDX_NS}


@dataclass(frozen=True)
class Slot:
    """One child position in a content model: the element's local name and how often it may occur."""

    name: str
    min: int = 0
    max: int | None = 1  # None: unbounded


def one(name: str) -> Slot:
    """Exactly once."""
    return Slot(name, 1, 1)


def opt(name: str) -> Slot:
    """At most once."""
    return Slot(name, 0, 1)


def many(name: str, minimum: int = 0) -> Slot:
    """Any number of times, at least `minimum`."""
    return Slot(name, minimum, None)


#: Content models by element (local) name, children in schema order. An element not listed is a leaf:
#: text only, never empty.
CONTENT: dict[str, tuple[Slot, ...]] = {
    "Invoice": (one("InvoiceProperties"), one("InvoiceDetails"), one("InvoiceSummary")),
    "InvoiceProperties": (
        one("InvoiceNumber"),
        one("InvoiceDate"),
        many("PartnerInformation"),
        opt("InvoiceTypeCode"),
        opt("RevisionNumber"),
        opt("PurchaseOrderInformation"),
        opt("FieldTicketInformation"),
        opt("PrimaryCurrency"),
        opt("JobLocationInformation"),  # in PORTALS.md's "...", where OpenInvoice's examples put it
        opt("PaymentTerms"),
        many("ReferenceInformation"),
        many("Attachment"),
        opt("Comment"),
    ),
    "PartnerInformation": (
        many("PartnerIdentifier"),
        opt("PartnerName"),
        opt("AddressInformation"),
        many("ContactInformation"),
    ),
    "AddressInformation": (
        many("StreetName"),
        opt("CityName"),
        opt("StateProvince"),
        opt("PostalCode"),
        opt("PostalCountry"),
    ),
    "PostalCountry": (one("CountryCode"),),
    "ContactInformation": (opt("ContactName"), opt("EmailAddress")),
    "PurchaseOrderInformation": (one("PurchaseOrderNumber"), opt("PurchaseOrderIssuedDate")),
    "FieldTicketInformation": (one("FieldTicketNumber"), opt("FieldTicketDate")),
    "PrimaryCurrency": (one("CurrencyCode"),),
    "JobLocationInformation": (one("WellInformation"),),
    "WellInformation": (one("WellIdentifier"),),
    "PaymentTerms": (
        opt("PaymentTermsBasisDateCode"),
        one("TermsNetDays"),
        opt("DaysDue"),  # the discount's days
        opt("PercentDiscount"),
    ),
    "ReferenceInformation": (one("ReferenceNumber"), opt("Description")),
    "Attachment": (
        one("AttachmentPurposeCode"),
        one("FileName"),
        opt("FileType"),  # ours: the MIME type, before the location
        one("AttachmentLocation"),
    ),
    "InvoiceDetails": (many("InvoiceLineItem", minimum=1),),
    "InvoiceLineItem": (
        one("LineItemNumber"),
        one("InvoiceQuantity"),
        one("LineItemInformation"),
        opt("PurchaseOrderLineItemNumber"),
        opt("FieldTicketLineItemNumber"),
        opt("Pricing"),
        many("AllowanceOrCharge"),
        many("Tax"),
        opt("LineItemTotal"),
        many("ServiceDateTime"),
        many("ReferenceInformation"),
        opt("JobLocationInformation"),  # ours: the line's well, in PORTALS.md's trailing "..."
    ),
    "InvoiceQuantity": (one("Quantity"), one("UnitOfMeasureCode")),
    "LineItemInformation": (many("LineItemIdentifier"), one("LineItemDescription")),
    "Pricing": (one("UnitPrice"),),
    "UnitPrice": (one("MonetaryAmount"), opt("UnitOfMeasureCode")),
    "AllowanceOrCharge": (
        one("AllowanceOrChargeTypeCode"),
        one("AllowanceOrChargeTotalAmount"),
        opt("Description"),
    ),
    "AllowanceOrChargeTotalAmount": (one("MonetaryAmount"),),
    "Tax": (
        one("TaxTypeCode"),
        opt("TaxRate"),
        opt("TaxBasisAmount"),  # ours: PIDX examples show rate then amount; the basis sits between
        one("TaxAmount"),
        opt("Description"),
    ),
    "TaxBasisAmount": (one("MonetaryAmount"),),
    "TaxAmount": (one("MonetaryAmount"),),
    "LineItemTotal": (one("MonetaryAmount"),),
    "InvoiceSummary": (
        one("TotalLineItems"),
        one("InvoiceTotal"),
        many("AllowanceOrCharge"),
        many("Tax"),
        many("SubTotalAmount"),
    ),
    "InvoiceTotal": (one("MonetaryAmount"),),
    "SubTotalAmount": (one("MonetaryAmount"),),
}

#: Attributes an element must carry (unqualified, as in OpenInvoice's examples).
REQUIRED_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "PartnerInformation": ("partnerRoleIndicator",),
    "PartnerIdentifier": ("partnerIdentifierIndicator",),
    "ReferenceInformation": ("referenceInformationIndicator",),
    "ServiceDateTime": ("dateTypeIndicator",),
    "AllowanceOrCharge": ("allowanceOrChargeIndicator",),
}
#: The root's attributes are namespace-qualified (`pidx:version`), as in every PIDX example.
TRANSACTION_PURPOSE = f"{{{PIDX_NS}}}transactionPurposeIndicator"
VERSION = f"{{{PIDX_NS}}}version"
#: The most problems reported for one document: the first few say what is wrong.
MAX_PROBLEMS = 20


def qname(local: str) -> str:
    """`{http://www.pidx.org/schemas/v1.61}local`."""
    return f"{{{PIDX_NS}}}{local}"


def local_name(element: etree._Element) -> str:
    """The element's name without its namespace."""
    return etree.QName(element).localname


def structure_problems(root: etree._Element) -> list[str]:
    """Every way `root` departs from the PIDX 1.61 Invoice structure above, worded for a person
    ("InvoiceProperties: <PrimaryCurrency> is out of order ..."); empty when it follows it."""
    problems: list[str] = []
    if root.tag != qname("Invoice"):
        return [f"the root element is <{root.tag}>, not <pidx:Invoice> in {PIDX_NS}"]
    if root.get(VERSION) != PIDX_VERSION:
        problems.append(f"Invoice: pidx:version must be {PIDX_VERSION!r}, found {root.get(VERSION)!r}")
    if not root.get(TRANSACTION_PURPOSE):
        problems.append("Invoice: pidx:transactionPurposeIndicator is required")
    _check(root, "Invoice", problems)
    return problems[:MAX_PROBLEMS]


def _check(element: etree._Element, path: str, problems: list[str]) -> None:
    if len(problems) >= MAX_PROBLEMS:
        return
    name = local_name(element)
    for attribute in REQUIRED_ATTRIBUTES.get(name, ()):
        if not (element.get(attribute) or "").strip():
            problems.append(f"{path}: attribute {attribute} is required")
    children = [child for child in element if isinstance(child.tag, str)]
    model = CONTENT.get(name)
    if model is None:
        if children:
            problems.append(f"{path}: <{name}> holds text only, found <{local_name(children[0])}>")
        elif not (element.text or "").strip():
            problems.append(f"{path}: <{name}> is empty")
        return
    if (element.text or "").strip():
        problems.append(f"{path}: <{name}> holds elements only, found text {element.text.strip()[:40]!r}")
    positions = {slot.name: index for index, slot in enumerate(model)}
    counts = dict.fromkeys(positions, 0)
    cursor = 0
    seen: dict[str, int] = {}
    for child in children:
        child_name = local_name(child)
        seen[child_name] = seen.get(child_name, 0) + 1
        child_path = f"{path}/{child_name}" + (f"[{seen[child_name]}]" if seen[child_name] > 1 else "")
        if etree.QName(child).namespace != PIDX_NS:
            problems.append(f"{path}: <{child.tag}> is not in the PIDX 1.61 namespace")
            continue
        index = positions.get(child_name)
        if index is None:
            problems.append(f"{path}: <{child_name}> is not allowed in <{name}>")
            continue
        counts[child_name] += 1
        if index < cursor:
            problems.append(
                f"{path}: <{child_name}> is out of order (PIDX puts it before <{model[cursor].name}>)"
            )
        else:
            cursor = index
        _check(child, child_path, problems)
    for slot in model:
        if counts[slot.name] < slot.min:
            problems.append(f"{path}: <{slot.name}> is required in <{name}>")
        if slot.max is not None and counts[slot.name] > slot.max:
            problems.append(f"{path}: <{slot.name}> may appear at most {slot.max} time(s) in <{name}>")
