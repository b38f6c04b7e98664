"""A second supplier web portal on 127.0.0.1, built unlike the first (connectors/sandbox/webportal) in
flow as well as in looks, so that the browser connector is judged on a portal nobody shaped for it.

Sign-in, then a separate one-time-code page; a dashboard whose "Create Invoice" button creates a draft
at a new address; a two-step wizard: the PO chosen from a search-then-select list ("4500017001 -
Drilling fluids - USD"), invoice number, MM/DD/YYYY date, currency, "Next: Lines"; then a lines table
grown in the page by "Add line", a UOM select with the portal's own codes, a PDF upload, Submit; errors
printed beside each field or line; a paged invoice list, newest first, with 12-hour local times, the
status on the list and the reason on a detail page linked from the "Invoice #" column.

Its own parsing and checks: it imports nothing outside connectors/sandbox.
"""

from connectors.sandbox.supplierportal.app import SupplierPortalSandbox
from connectors.sandbox.supplierportal.config import SupplierPortalConfig, load_config
from connectors.sandbox.supplierportal.facade import SandboxPortal

__all__ = ["SandboxPortal", "SupplierPortalConfig", "SupplierPortalSandbox", "load_config"]
