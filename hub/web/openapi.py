"""The API's OpenAPI 3.1 document, served at /api/openapi.json (checked by openapi-spec-validator in
tests/web/test_api.py, and against the routes the app serves)."""

from __future__ import annotations

from typing import Any

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_ERRORS = {"400": _PROBLEM, "401": _PROBLEM, "403": _PROBLEM}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _param(
    name: str, description: str, schema: dict[str, Any] | None = None, where: str = "query"
) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema or {"type": "string"},
    }


_PAGING = [
    _param(
        "limit", "Items per page (1 to 500, default 100).", {"type": "integer", "minimum": 1, "maximum": 500}
    ),
    _param("cursor", "The `next_cursor` of the previous page."),
]
_FILTERS = [
    _param("customer", "Only this AR customer id."),
    _param("portal", "Only this portal profile id."),
    {
        **_param(
            "category",
            "Only these reason categories (repeatable).",
            {"type": "array", "items": {"type": "string"}},
        ),
        "explode": True,
    },
    _param(
        "older_than_days", "Only problems at least this many days old.", {"type": "integer", "minimum": 0}
    ),
    _param("min_amount", "Only invoices of at least this amount (absolute).", {"type": "string"}),
]
_NUMBER = _param("number", "The AR invoice number (the invoice's stable id).", where="path")
_OBJECT = {"type": "object", "additionalProperties": True}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of /api (a new dict each call)."""
    page: dict[str, Any] = {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _OBJECT},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as `cursor` for the next page; null: last page.",
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "portalhub API",
            "version": "1",
            "description": "Invoices, problems, actions and report figures of a portalhub. Authenticate with "
            "`Authorization: Bearer <token>` (`portalhub users token`). Errors are application/problem+json.",
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/invoices": {
                "get": {
                    "summary": "Invoices in the store, oldest first (keyset paging)",
                    "parameters": [
                        _param("state", "Only invoices in this state (READY, BLOCKED, REJECTED, PAID, ...)."),
                        _param("customer", "Only this AR customer id."),
                        _param("portal", "Only this portal profile id."),
                        *_PAGING,
                    ],
                    "responses": {
                        "200": _json(page, "A page of invoices; `id` is the AR invoice number."),
                        **_ERRORS,
                    },
                }
            },
            "/api/problems": {
                "get": {
                    "summary": "The worklist: stuck invoices by customer and reason, oldest first",
                    "parameters": [*_FILTERS, *_PAGING],
                    "responses": {
                        "200": _json(
                            {
                                **page,
                                "properties": {
                                    **page["properties"],
                                    "total": {"type": "integer"},
                                    "totals": {"type": "object", "additionalProperties": {"type": "string"}},
                                },
                            },
                            "A page of problems with the portal's words, the broken rules and the next step.",
                        ),
                        **_ERRORS,
                    },
                }
            },
            "/api/invoices/{number}": {
                "get": {
                    "summary": "One invoice: timeline, sends (secrets masked), corrections, AR record",
                    "parameters": [_NUMBER],
                    "responses": {"200": _json(_OBJECT, "The invoice."), "404": _PROBLEM, **_ERRORS},
                }
            },
            "/api/invoices/{number}/actions/{action}": {
                "post": {
                    "summary": "Act on an invoice (collector or admin): revalidate, resubmit, cancel, owner, note, follow_up",
                    "parameters": [
                        _NUMBER,
                        _param(
                            "action",
                            "What to do.",
                            {
                                "type": "string",
                                "enum": ["revalidate", "resubmit", "cancel", "owner", "note", "follow_up"],
                            },
                            where="path",
                        ),
                    ],
                    "requestBody": {
                        "required": False,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "force": {
                                            "type": "boolean",
                                            "description": "resubmit: send even if unchanged",
                                        },
                                        "confirm": {"type": "boolean", "description": "cancel: must be true"},
                                        "reason": {
                                            "type": "string",
                                            "description": "cancel: why (kept on the timeline)",
                                        },
                                        "owner": {
                                            "type": "string",
                                            "description": "owner: who (empty: nobody)",
                                        },
                                        "text": {"type": "string", "description": "note: the note"},
                                        "follow_up_on": {
                                            "type": "string",
                                            "format": "date",
                                            "description": "follow_up: the date (empty: none)",
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["ok", "message"],
                                "properties": {
                                    "ok": {"type": "boolean"},
                                    "message": {"type": "string"},
                                    "result": _OBJECT,
                                },
                            },
                            "What happened (recorded on the timeline as `api:<token name>`).",
                        ),
                        "404": _PROBLEM,
                        "409": _PROBLEM,
                        "422": _PROBLEM,
                        "503": _PROBLEM,
                        **_ERRORS,
                    },
                }
            },
            "/api/report": {
                "get": {
                    "summary": "The report's figures for the last 30 days: first-pass acceptance, caught before sending, days to pay",
                    "responses": {"200": _json(_OBJECT, "The figures."), **_ERRORS},
                }
            },
            "/api/status": {
                "get": {
                    "summary": "Invoices per profile and state, daemons and their last ticks, what needs a person",
                    "responses": {"200": _json(_OBJECT, "The status."), **_ERRORS},
                }
            },
            "/api/quarantine": {
                "get": {
                    "summary": "AR records that are not valid invoices, with the reasons",
                    "responses": {
                        "200": _json(
                            {"type": "object", "properties": {"items": {"type": "array", "items": _OBJECT}}},
                            "The records.",
                        ),
                        **_ERRORS,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "detail"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                    },
                }
            },
            "responses": {
                "Problem": {
                    "description": "An error (RFC 9457).",
                    "content": {
                        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                    },
                }
            },
        },
    }
