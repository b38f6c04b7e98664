"""OpenInvoice over SOAP: a WSDL-described service called through zeep. Imported only when a profile
uses `transport: soap`, so zeep costs nothing otherwise.

- The WSDL comes from a URL or a local file, parsed with external references, entities and DTDs
  forbidden (zeep's forbid_external / forbid_entities / forbid_dtd): a WSDL is outside input too.
- zeep talks through `_HubTransport`, which sends over the hub's httpx client via connectors/http.py,
  so transport failures map exactly as for every connector: not sent -> TransientPortalError, sent
  without an answer -> InDoubtError (for a read, which is safe to repeat: TransientPortalError).
- SOAP faults: the ServiceFault detail decides when it says (AUTHENTICATION/AUTHORIZATION -> access,
  ROUTING -> the profile, Retryable true/false); otherwise the fault code: Client/Sender -> permanent
  (our request is wrong), Server/Receiver -> transient (the service failed and did not process it).
- Anything else zeep raises after the request left (an envelope it cannot read) is an unusable answer:
  IN_DOUBT for a submission. Before the request left (our call does not fit the WSDL): ConfigError.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import httpx
import zeep
import zeep.exceptions
import zeep.helpers
from lxml import etree
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter
from zeep.wsse.username import UsernameToken

from connectors.base import OutboundDocument, Receipt
from connectors.http import retry_after_seconds, send_read, send_submission
from connectors.multipart import unpack
from connectors.openinvoice.outcome import receipt_or_raise, unreadable_answer
from connectors.openinvoice.settings import OpenInvoiceConnection, SoapSettings, is_url, local_path
from hub.errors import (
    ConfigError,
    InDoubtError,
    MappingError,
    PermanentPortalError,
    PortalAuthError,
    PortalError,
    TransientPortalError,
)
from hub.model import RejectionCategory
from mappings.pidx_response import parse_invoice_response
from mappings.rejection_words import categorize
from mappings.xml_safety import parse_untrusted

_AUTH_CODES = frozenset({"AUTHENTICATION", "AUTHORIZATION", "NOT_ENABLED"})
_CLIENT_CODES = frozenset({"client", "sender"})
_SERVER_CODES = frozenset({"server", "receiver"})
#: ListInvoiceChanges needs a watermark; "from the beginning" is the epoch.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _HubTransport(zeep.Transport):
    """zeep's transport over the hub's httpx client (zeep's own opens a requests session we never use)."""

    def __init__(self, http: httpx.Client, timeout: float, sleep: Callable[[float], None]):
        self.cache = None
        self.load_timeout = timeout
        self.operation_timeout = timeout
        self._close_session = False
        self.http = http
        self.sleep = sleep
        self.local = threading.local()  # whether this thread's current call put a request on the wire

    def post(self, address: str, message: bytes | str, headers: dict[str, str]) -> httpx.Response:
        self.local.sent = True
        response = send_submission(
            self.http, "POST", address, content=message, headers=headers, timeout=self.operation_timeout
        )
        self.local.response = response
        return response

    def get(self, address: str, params: Any, headers: dict[str, str]) -> httpx.Response:
        return send_read(self.http, "GET", address, params=params, headers=headers, sleep=self.sleep)

    def load(self, url: str) -> bytes:
        if is_url(url):
            return self._load_remote_data(url)
        path = Path(url.removeprefix("file://"))
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read the WSDL or schema file {path}: {exc.strerror}") from exc

    def _load_remote_data(self, url: str) -> bytes:
        response = send_read(self.http, "GET", url, sleep=self.sleep, timeout=self.load_timeout)
        if response.status_code != 200:
            raise ConfigError(f"the WSDL at {url} answered HTTP {response.status_code}")
        return response.content


def _local(tag: object) -> str:
    return etree.QName(str(tag)).localname if tag else ""


class SoapGateway:
    """One profile's SOAP service. The parsed WSDL is kept (parsing costs far more than a call)."""

    def __init__(
        self,
        connection: OpenInvoiceConnection,
        folder: Path | None,
        http: httpx.Client,
        secret: Callable[[str], str],
        sleep: Callable[[float], None],
    ):
        assert connection.soap is not None
        self.connection = connection
        self.soap: SoapSettings = connection.soap
        self.folder = folder
        self.secret = secret
        self.sleep = sleep
        self.transport = _HubTransport(http, connection.timeout_seconds, sleep)
        self._client: zeep.Client | None = None
        self._service: Any = None
        self._lock = threading.Lock()

    @property
    def wsdl_location(self) -> str:
        wsdl = self.soap.wsdl
        return wsdl if is_url(wsdl) else str(local_path(wsdl.removeprefix("file://"), self.folder))

    def _bound(self) -> Any:
        with self._lock:
            if self._service is None:
                settings = zeep.Settings(
                    strict=True, forbid_external=True, forbid_entities=True, forbid_dtd=True
                )
                try:
                    client = zeep.Client(self.wsdl_location, transport=self.transport, settings=settings)
                except (PortalError, ConfigError):
                    raise
                except Exception as exc:
                    # Nothing has been sent yet, whatever zeep tripped over in the WSDL: a configuration
                    # problem, never an unknown outcome for the invoice.
                    raise ConfigError(
                        f"the WSDL at {self.wsdl_location} is not usable: {type(exc).__name__}: {exc}"
                    ) from exc
                binding = next(iter(client.wsdl.bindings), None)
                if binding is None:
                    raise ConfigError(f"the WSDL at {self.wsdl_location} has no binding")
                address = self.soap.service_url
                self._service = client.create_service(binding, address) if address else client.service
                self._client = client
            return self._service

    def _call(self, operation: str, *, submission: bool, **arguments: Any) -> Any:
        service = self._bound()
        assert self._client is not None
        # The password is read at each call (rotation needs no restart) and travels as a digest only.
        self._client.wsse = UsernameToken(
            self.soap.username, self.secret(self.soap.password), use_digest=True
        )
        self.transport.local.sent = False
        self.transport.local.response = None
        try:
            return getattr(service, operation)(**arguments)
        except InDoubtError as exc:
            if submission:
                raise
            raise TransientPortalError(f"{operation}: {exc}") from exc
        except zeep.exceptions.Fault as fault:
            response: httpx.Response | None = self.transport.local.response
            if fault.code is None and not isinstance(fault.detail, etree._Element) and response is not None:
                # Not a SOAP fault: an error page (a gateway's HTML, say). The HTTP status decides.
                _http_error(response, operation, submission=submission)
            raise _fault_error(operation, fault) from None
        except zeep.exceptions.TransportError as exc:
            response = self.transport.local.response
            if response is None:
                raise TransientPortalError(f"{operation}: {exc}") from exc
            _http_error(response, operation, submission=submission)
        except (PortalError, ConfigError):
            raise
        except (zeep.exceptions.Error, etree.LxmlError, ValueError, TypeError, AttributeError) as exc:
            if not getattr(self.transport.local, "sent", False):
                raise ConfigError(
                    f"{operation} could not be called as the WSDL at {self.wsdl_location} describes it: {exc}"
                ) from exc
            if submission:
                raise InDoubtError(f"{operation}: the answer is not a usable SOAP message: {exc}") from exc
            raise TransientPortalError(
                f"{operation}: the answer is not a usable SOAP message: {exc}"
            ) from exc

    def _read(self, operation: str, **arguments: Any) -> Any:
        retrying = Retrying(
            retry=retry_if_exception_type(TransientPortalError),
            stop=stop_after_attempt(3),
            wait=wait_exponential_jitter(multiplier=0.5, max=10),
            reraise=True,
            sleep=self.sleep,
        )
        return retrying(lambda: self._call(operation, submission=False, **arguments))

    # --- the gateway ------------------------------------------------------------------------------------
    def submit(self, document: OutboundDocument) -> Receipt:
        """SubmitInvoice with the PIDX document and its files; the InvoiceResponse decides."""
        xml, parts = unpack(document.content_type, document.body)
        invoice = parse_untrusted(xml)  # our own bytes, parsed as zeep needs an element
        result = self._call(
            "SubmitInvoice",
            submission=True,
            Document={"_value_1": invoice},
            Attachment=[
                {
                    "ContentId": part.content_id,
                    "FileName": part.filename,
                    "ContentType": part.content_type,
                    "Content": part.content,
                }
                for part in parts
            ],
        )
        answer = getattr(getattr(result, "Response", None), "_value_1", None)
        if not isinstance(answer, etree._Element):
            raise InDoubtError("SubmitInvoice answered without a PIDX InvoiceResponse")
        kept = copy.deepcopy(answer)
        etree.cleanup_namespaces(kept)  # the envelope's namespaces are not part of the response
        body = etree.tostring(kept, encoding="unicode")
        try:
            response = parse_invoice_response(answer)
        except MappingError as exc:
            raise InDoubtError(f"SubmitInvoice answered with an unreadable InvoiceResponse: {exc}") from exc
        invoice_id = getattr(result, "InvoiceId", None)
        return receipt_or_raise(
            response, portal_invoice_id=str(invoice_id) if invoice_id else None, http_status=200, body=body
        )

    def lookup(self, invoice_number: str) -> dict[str, Any] | None:
        """GetInvoiceStatus: the portal's newest record under this number, or None."""
        result = self._read("GetInvoiceStatus", InvoiceNumber=invoice_number)
        record = getattr(result, "Record", None)
        return _record(record) if record is not None else None

    def changes(self, since: datetime | None, skip: int, top: int) -> tuple[list[dict[str, Any]], bool]:
        """ListInvoiceChanges: one page of records whose last action is at or after `since`."""
        result = self._read(
            "ListInvoiceChanges", ChangedSince=since or _EPOCH, StartIndex=skip, MaxRecords=top
        )
        records = getattr(result, "Record", None) or []
        return [_record(r) for r in records], bool(getattr(result, "MoreAvailable", False))

    def close(self) -> None:
        pass  # the hub's HTTP client is the hub's to close


def _record(record: Any) -> dict[str, Any]:
    """A zeep InvoiceStatusRecord in the shape mappings.openinvoice_status reads."""
    data = zeep.helpers.serialize_object(record, dict)
    return {
        "invoiceId": data.get("InvoiceId"),
        "invoiceNumber": data.get("InvoiceNumber"),
        "status": data.get("Status"),
        "lastActionDate": data.get("LastActionDate"),
        "reasonCode": data.get("ReasonCode"),
        "comments": data.get("Comment") or [],
        "paidAmount": data.get("PaidAmount"),
        "paymentDate": data.get("PaymentDate"),
        "invoiceTotal": data.get("InvoiceTotal"),
        "currency": data.get("CurrencyCode"),
    }


def _fault_detail(fault: zeep.exceptions.Fault) -> tuple[str | None, bool | None, str | None]:
    detail = fault.detail
    if not isinstance(detail, etree._Element):
        return None, None, None
    found = next(
        (e for e in detail.iter() if isinstance(e.tag, str) and _local(e.tag) == "ServiceFault"), None
    )
    if found is None:
        return None, None, None
    values = {_local(child.tag): (child.text or "").strip() for child in found if isinstance(child.tag, str)}
    retryable = values.get("Retryable", "").lower()
    return (
        values.get("Code") or None,
        True if retryable in ("true", "1") else False if retryable in ("false", "0") else None,
        values.get("Message") or None,
    )


def _fault_error(operation: str, fault: zeep.exceptions.Fault) -> PortalError | ConfigError:
    """A SOAP fault, in the hub's error tree (see the module docstring)."""
    code, retryable, message = _fault_detail(fault)
    # faultcode is a prefixed name (`soap:Server`, `env:Receiver`), or a Clark name from some stacks.
    fault_code = str(fault.code or "").rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()
    text = " ".join(str(part) for part in (fault.message, message) if part and part != fault.message) or str(
        fault.message
    )
    portal_code = f"{fault_code or 'fault'}/{code}" if code else (fault_code or "fault")
    words = f"{operation}: SOAP fault {portal_code}: {text}"
    facts: dict[str, Any] = {"portal_code": portal_code, "portal_text": text, "http_status": 500}
    if code in _AUTH_CODES:
        return PortalAuthError(words, **facts)
    if code == "ROUTING":
        return ConfigError(f"{words} (check connection.seller and connection.buyer)")
    if retryable is True or (retryable is None and fault_code in _SERVER_CODES):
        return TransientPortalError(words, **facts)
    category = categorize(
        text, RejectionCategory.DOCUMENT if fault_code in _CLIENT_CODES else RejectionCategory.OTHER
    )
    return PermanentPortalError(
        words, category=category, duplicate=category is RejectionCategory.DUPLICATE, **facts
    )


def _http_error(response: httpx.Response, operation: str, *, submission: bool) -> NoReturn:
    """An answer with an HTTP error status and no SOAP message in it."""
    status = response.status_code
    if submission:
        unreadable_answer(
            status,
            response.text[:300],
            f"{operation}: no SOAP envelope",
            retry_after=retry_after_seconds(response),
        )
    if status in (401, 403):
        raise PortalAuthError(f"{operation}: the service refused access (HTTP {status})", http_status=status)
    if status in (404, 405):
        raise ConfigError(
            f"{operation}: the service answered HTTP {status}: check soap.service_url / the WSDL"
        )
    raise TransientPortalError(f"{operation}: the service answered HTTP {status}", http_status=status)
