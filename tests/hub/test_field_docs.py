"""Field descriptions are the docstrings under the fields, read when a reference is printed
(hub/field_docs.py) rather than at every import."""

from __future__ import annotations

import subprocess
import sys

from pydantic import BaseModel

from hub.config import HubConfig
from hub.field_docs import documented


class Inner(BaseModel):
    depth: int = 0
    """How deep."""


class Base(BaseModel):
    name: str = ""
    """Who it is.

    On two lines."""


class Outer(Base):
    inner: Inner | None = None
    """The inner part."""
    items: list[Inner] = []
    explained: int = 0
    """Ignored: the field says it itself."""


Outer.model_fields["explained"].description = "Given with the field."


def test_descriptions_come_from_the_docstrings_of_every_model_reached() -> None:
    schema = documented(Outer).model_json_schema()
    properties = schema["properties"]
    assert properties["name"]["description"] == "Who it is.\n\nOn two lines."  # inherited field
    assert properties["inner"]["description"] == "The inner part."
    assert "description" not in properties["items"]
    assert properties["explained"]["description"] == "Given with the field."
    assert schema["$defs"]["Inner"]["properties"]["depth"]["description"] == "How deep."


def test_importing_the_models_reads_no_docstring() -> None:
    """Reading them at import (pydantic's `use_attribute_docstrings`) parses every class's source: ~30 ms
    of every command's start. A fresh interpreter: nothing in this one has asked for them yet."""
    probe = (
        "from hub.config import HubConfig; from hub.model import Invoice; "
        "print(HubConfig.model_fields['store_url'].description, Invoice.model_fields['currency'].description)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["None", "None"]
    described = documented(HubConfig).model_fields["store_url"].description
    assert described and "store" in described.lower()
