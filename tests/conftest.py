"""Shared fixtures. Reference files and PostgreSQL are optional on a laptop (the tests that need them
skip with the reason) and mandatory in CI (`.ci/run` sets PORTALHUB_REQUIRE_REFS / _PG: they fail)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.coupa import CoupaSandbox
from connectors.sandbox.server import FaultPlan
from hub.refs import PIDX_INVOICE_RESPONSE_XSD, PIDX_INVOICE_XSD, cxml_refs_dir, pidx_refs_dir
from hub.store.database import Store, normalise_url
from tests.factories import T0, buyer_config

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def _missing(what: str, required_by: str) -> None:
    if os.environ.get(required_by) == "1":
        pytest.fail(f"{what} (required in CI by {required_by}=1)")
    pytest.skip(what)


def require_chromium() -> str:
    """Debian's Chromium for the browser connector's tests: they skip without it on a laptop and fail in
    CI (`.ci/run` installs it and sets PORTALHUB_REQUIRE_CHROMIUM=1)."""
    path = shutil.which("chromium")
    if path is None:
        _missing(
            "Chromium is not installed (apt-get install -y chromium); the browser connector's tests need it",
            "PORTALHUB_REQUIRE_CHROMIUM",
        )
    assert path is not None
    return path


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium executable the browser tests launch (see `require_chromium`)."""
    return require_chromium()


@pytest.fixture(scope="session")
def cxml_refs() -> Path:
    folder = cxml_refs_dir()
    if folder is None:
        _missing(
            "the cXML DTDs are not in ../shared/refs/cxml (set PORTALHUB_CXML_REFS to their folder)",
            "PORTALHUB_REQUIRE_REFS",
        )
    assert folder is not None
    return folder


@pytest.fixture(scope="session")
def invoice_dtd_path(cxml_refs: Path) -> Path:
    return cxml_refs / "1.2.037" / "InvoiceDetail.dtd"


@pytest.fixture(scope="session")
def invoice_dtd(invoice_dtd_path: Path) -> etree.DTD:
    return etree.DTD(str(invoice_dtd_path))


@pytest.fixture(scope="session")
def cxml_core_dtd(cxml_refs: Path) -> etree.DTD:
    """cXML.dtd 1.2.063: Response and StatusUpdateRequest (it does not declare InvoiceDetailRequest)."""
    return etree.DTD(str(cxml_refs / "1.2.063" / "cXML.dtd"))


def require_pidx_refs() -> Path:
    """The PIDX 1.61 schemas folder: tests that need it skip without it on a laptop and fail in CI."""
    folder = pidx_refs_dir()
    if folder is None:
        _missing(
            "the PIDX 1.61 schemas are not in ../shared/refs/pidx/1.61 (set PORTALHUB_PIDX_REFS to the "
            "folder holding 1.61/SCHEMA_PIDX_1.61_Invoice.xsd)",
            "PORTALHUB_REQUIRE_REFS",
        )
    assert folder is not None
    return folder


@pytest.fixture(scope="session")
def pidx_refs() -> Path:
    return require_pidx_refs()


@pytest.fixture(scope="session")
def pidx_invoice_xsd_path(pidx_refs: Path) -> Path:
    return pidx_refs / PIDX_INVOICE_XSD


@pytest.fixture(scope="session")
def pidx_invoice_schema(pidx_invoice_xsd_path: Path) -> etree.XMLSchema:
    """SCHEMA_PIDX_1.61_Invoice.xsd, compiled once for the whole session (building it is slow)."""
    return etree.XMLSchema(etree.parse(str(pidx_invoice_xsd_path)))


@pytest.fixture(scope="session")
def pidx_response_schema(pidx_refs: Path) -> etree.XMLSchema:
    """SCHEMA_PIDX_1.61_InvoiceResponse.xsd, compiled once for the whole session."""
    return etree.XMLSchema(etree.parse(str(pidx_refs / PIDX_INVOICE_RESPONSE_XSD)))


def schema_problems(schema: etree.XMLSchema, document: etree._Element | bytes) -> list[str]:
    """Every error the official schema finds in `document` (empty: valid), with line numbers."""
    tree = etree.fromstring(document) if isinstance(document, bytes) else document
    if schema.validate(tree):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get("PORTALHUB_TEST_PG_URL", DEFAULT_PG)
    try:
        import psycopg

        psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3).close()
    except Exception as exc:
        _missing(f"PostgreSQL is not reachable at {url}: {exc}", "PORTALHUB_REQUIRE_PG")
    return url


@pytest.fixture
def pg_database(pg_url: str) -> Iterator[str]:
    """A fresh, empty database on the PostgreSQL server, dropped afterwards."""
    import psycopg

    name = f"portalhub_test_{uuid.uuid4().hex[:12]}"
    admin = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_store(pg_database: str) -> Iterator[Store]:
    store = Store(normalise_url(pg_database))
    store.migrate()
    yield store
    store.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    yield store
    store.dispose()


@pytest.fixture
def sandbox_clock() -> SandboxClock:
    return SandboxClock(start=T0)


@pytest.fixture
def faults() -> FaultPlan:
    return FaultPlan(seed=1)


@pytest.fixture
def coupa(sandbox_clock: SandboxClock, faults: FaultPlan) -> Iterator[CoupaSandbox]:
    """The Coupa sandbox with the test buyer, serving on a free port (DTD check when refs exist)."""
    sandbox = CoupaSandbox(buyer_config(), sandbox_clock, cxml_refs=cxml_refs_dir())
    server = sandbox.serve(faults=faults)
    yield sandbox
    server.stop()


@pytest.fixture(autouse=True, scope="session")
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The read-only commands keep the rules folder's outline in the user's cache folder
    (hub/readonly/outline_cache.py): the suite keeps its own, not the engineer's."""
    previous = os.environ.get("PORTALHUB_CACHE_DIR")
    os.environ["PORTALHUB_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        del os.environ["PORTALHUB_CACHE_DIR"]
    else:
        os.environ["PORTALHUB_CACHE_DIR"] = previous
