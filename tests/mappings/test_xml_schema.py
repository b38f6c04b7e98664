"""mappings.xml_schema: the one DTD/XSD validator (pre-flight's document checks, the `document_schema`
rule). A schema file is compiled once per process, and again only when the file changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lxml import etree

from mappings import xml_schema
from mappings.xml_schema import SchemaError, schema_errors

DTD = "<!ELEMENT doc (item+)>\n<!ELEMENT item (#PCDATA)>\n"
XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="doc"><xs:complexType><xs:sequence>
    <xs:element name="item" type="xs:integer" maxOccurs="unbounded"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>"""


def test_valid_and_invalid_documents_against_a_dtd_and_an_xsd(tmp_path: Path) -> None:
    (tmp_path / "doc.dtd").write_text(DTD)
    (tmp_path / "doc.xsd").write_text(XSD)
    good, bad = etree.fromstring(b"<doc><item>1</item></doc>"), etree.fromstring(b"<doc><other/></doc>")
    for kind in ("dtd", "xsd"):
        path = tmp_path / f"doc.{kind}"
        assert schema_errors(path, kind, good) == []
        errors = schema_errors(path, kind, bad)
        assert errors and any("other" in error for error in errors)


def test_a_schema_is_compiled_once_and_again_when_its_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "doc.dtd"
    path.write_text(DTD)
    tree = etree.fromstring(b"<doc><item>1</item></doc>")
    xml_schema._load.cache_clear()
    for _ in range(3):
        schema_errors(path, "dtd", tree)
    assert xml_schema._load.cache_info().misses == 1
    path.write_text("<!ELEMENT doc EMPTY>\n")
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))  # a later edit, whatever the clock's resolution
    assert schema_errors(path, "dtd", tree)  # the new DTD says <doc> is empty
    assert xml_schema._load.cache_info().misses == 2


def test_a_missing_or_broken_schema_file_is_a_schema_error(tmp_path: Path) -> None:
    tree = etree.fromstring(b"<doc/>")
    with pytest.raises(SchemaError, match="cannot read the XSD"):
        schema_errors(tmp_path / "missing.xsd", "xsd", tree)
    (tmp_path / "broken.dtd").write_text("<!ELEMENT broken")
    with pytest.raises(SchemaError, match="cannot load the DTD"):
        schema_errors(tmp_path / "broken.dtd", "dtd", tree)
