"""The text writer must produce exactly what lxml would serialise for the same tree: the goldens, the
DTD check and every stored document depend on it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.errors import MappingError
from mappings.xml_writer import XmlWriter

# Everything XML can hold, weighted towards what needs escaping.
xml_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("&<>\"'\t\n\r ]]>;#x")),
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]),
    ).filter(lambda c: c not in "\ufffe\uffff"),
    max_size=25,
)


def lxml_version(text: str, attribute: str) -> bytes:
    root = etree.Element("Root", a=attribute, **{"{http://www.w3.org/XML/1998/namespace}lang": "en"})
    etree.SubElement(root, "Text").text = text
    etree.SubElement(root, "Empty").text = ""
    etree.SubElement(root, "Absent", b="1")
    nested = etree.SubElement(root, "Nested", c=text)
    etree.SubElement(nested, "Leaf").text = attribute
    etree.SubElement(etree.SubElement(root, "Outer"), "Money", currency=attribute).text = text
    return etree.tostring(root, encoding="UTF-8", xml_declaration=False)


def writer_version(text: str, attribute: str) -> bytes:
    w = XmlWriter()
    with w.element("Root", a=attribute, **{"xml:lang": "en"}):
        w.leaf("Text", text)
        w.leaf("Empty", "")
        w.leaf("Absent", b="1", skipped=None)
        with w.element("Nested", c=text):
            w.leaf("Leaf", attribute)
        w.wrapped("Outer", "Money", text, currency=attribute)
    return w.getvalue().encode("utf-8")


@settings(max_examples=400, deadline=None)
@given(text=xml_text, attribute=xml_text)
def test_the_writer_writes_what_lxml_serialises(text: str, attribute: str) -> None:
    assert writer_version(text, attribute) == lxml_version(text, attribute)


@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\ufffe", "\uffff", "\ud800"])
def test_characters_xml_cannot_hold_name_the_element_not_the_value(bad: str) -> None:
    w = XmlWriter()
    with pytest.raises(MappingError) as raised:
        w.leaf("SharedSecret", f"s3cret{bad}")
    assert "<SharedSecret>" in str(raised.value) and "s3cret" not in str(raised.value)
    with pytest.raises(MappingError):
        XmlWriter().leaf("Credential", domain=f"DUNS{bad}")


def test_an_unclosed_element_is_a_mapping_bug() -> None:
    w = XmlWriter()
    w.element("Open")
    with pytest.raises(RuntimeError, match="unclosed"):
        w.getvalue()
