"""CSV exports through the files adapter: one file or two, mapped columns, and every kind of bad input
(delimiter, missing columns, numbers, dates, encodings, broken rows), on real files in a real folder."""

from __future__ import annotations

import codecs
from datetime import date
from decimal import Decimal
from pathlib import Path

from hub.model import InvoicePurpose
from tests.ar.support import CSV_HEADER, by_key, csv_row, drop, drop_fixture, files_adapter, files_in, pull


def test_the_sample_export_becomes_invoices_and_moves_to_done(tmp_path: Path) -> None:
    drop_fixture(tmp_path, "invoices.csv")
    records = by_key(pull(files_adapter(tmp_path)))
    assert sorted(records) == ["CM-3003", "INV-3001", "INV-3002"]
    assert all(r.error is None for r in records.values())
    first = records["INV-3001"].invoice
    assert first is not None
    assert first.total == Decimal("180.78") and first.tax_total == Decimal("13.78")
    assert [(line.line_number, line.supplier_part_id, line.amount) for line in first.lines] == [
        (1, "BRG-6205", Decimal("125.00")),
        (2, "SEAL-22", Decimal("42.00")),
    ]
    assert first.lines[1].description == "Shaft seal 22 mm, nitrile"  # a quoted comma
    assert first.lines[0].taxes[0].amount == Decimal("10.31") and first.payment_terms is not None
    assert first.buyer.party_id == "987654321" and first.due_date == date(2026, 12, 18)
    service = records["INV-3002"].invoice
    assert service is not None and service.lines[0].service_period is not None
    assert service.lines[0].service_period.start == date(2026, 11, 10)
    credit = records["CM-3003"].invoice
    assert credit is not None and credit.purpose is InvoicePurpose.CREDIT_MEMO
    assert credit.total == Decimal("-27.06") and credit.original_invoice_number == "INV-3001"
    assert files_in(tmp_path) == ["done/invoices.csv"]


def test_a_header_file_and_a_lines_file_are_read_together(tmp_path: Path) -> None:
    drop_fixture(tmp_path, "acme-2026-11.header.csv")
    adapter = files_adapter(tmp_path)
    assert pull(adapter) == []  # the lines file has not arrived: wait
    assert files_in(tmp_path) == ["acme-2026-11.header.csv"]
    drop_fixture(tmp_path, "acme-2026-11.lines.csv")
    records = by_key(pull(adapter))
    assert sorted(records) == ["INV-3101", "INV-3102"]
    invoice = records["INV-3101"].invoice
    assert invoice is not None and invoice.comments == "November bearings"
    assert invoice.lines[0].quantity == Decimal("20")  # the lines file lists it second
    assert files_in(tmp_path) == ["done/acme-2026-11.header.csv", "done/acme-2026-11.lines.csv"]


def test_pairs_explain_lines_without_a_header_and_headers_without_lines(tmp_path: Path) -> None:
    drop(
        tmp_path,
        "x.header.csv",
        "invoice_number,customer_id,customer_name,invoice_date,currency,subtotal,tax_total,total\n"
        "INV-1,C-1,ACME,2026-11-20,USD,25.00,0,25.00\n"
        "INV-2,C-1,ACME,2026-11-20,USD,25.00,0,25.00\n",
    )
    drop(
        tmp_path,
        "x.lines.csv",
        "invoice_number,line_no,description,quantity,uom,unit_price,amount\n"
        "INV-1,1,Bearing,2,EA,12.50,25.00\n"
        "INV-9,1,Bearing,2,EA,12.50,25.00\n",
    )
    records = by_key(pull(files_adapter(tmp_path)))
    assert records["INV-1"].invoice is not None
    assert records["INV-2"].error == "x.header.csv row 3: invoice 'INV-2' has no lines in x.lines.csv"
    assert records["INV-9"].error == "x.lines.csv row 3: invoice 'INV-9' is not in x.header.csv"
    report = (tmp_path / "error" / "x.header.csv.error.txt").read_text()
    assert "1 record(s) imported, 2 not" in report
    assert "x.lines.csv row 3 (INV-9): invoice 'INV-9' is not in x.header.csv" in report
    assert (tmp_path / "error" / "x.lines.csv").exists()


def test_mapped_columns_semicolons_decimal_commas_and_day_first_dates(tmp_path: Path) -> None:
    drop(
        tmp_path,
        "export.csv",
        "Rechnung;Kunde;Kundenname;Datum;Währung;Netto;Steuer;Brutto;Pos;Text;Menge;ME;Preis;Betrag\n"
        "R-1;C-1;ACME GmbH;20.11.2026;EUR;1.250,00;0,00;1.250,00;1;Lager;100;EA;12,50;1.250,00\n",
    )
    columns = {
        "invoice_number": "Rechnung",
        "customer_id": "kunde",  # matched without regard to case
        "customer_name": "Kundenname",
        "invoice_date": "Datum",
        "currency": "Währung",
        "subtotal": "Netto",
        "tax_total": "Steuer",
        "total": "Brutto",
        "line_no": "Pos",
        "description": "Text",
        "quantity": "Menge",
        "uom": "ME",
        "unit_price": "Preis",
        "amount": "Betrag",
    }
    csv = {
        "delimiter": ";",
        "decimal_separator": ",",
        "thousands_separator": ".",
        "date_format": "%d.%m.%Y",
        "columns": columns,
    }
    [record] = pull(files_adapter(tmp_path, csv=csv))
    assert record.error is None and record.invoice is not None
    assert record.invoice.total == Decimal("1250.00") and record.invoice.invoice_date == date(2026, 11, 20)
    assert record.invoice.lines[0].unit_price == Decimal("12.50")


def test_a_wrong_delimiter_fails_the_file_with_the_delimiter_it_seems_to_use(tmp_path: Path) -> None:
    drop(
        tmp_path, "semi.csv", CSV_HEADER.replace(",", ";") + "\n" + csv_row("INV-1").replace(",", ";") + "\n"
    )
    [record] = pull(files_adapter(tmp_path))
    assert record.key == "file:semi.csv" and record.invoice is None
    assert record.error is not None
    assert "missing column(s) invoice_number, customer_id" in record.error
    assert "seems to use ';' between columns" in record.error and "csv.delimiter: ';'" in record.error
    assert files_in(tmp_path) == ["error/semi.csv", "error/semi.csv.error.txt"]
    report = (tmp_path / "error" / "semi.csv.error.txt").read_text().splitlines()
    assert report == [
        "portalhub did not import semi.csv: the file could not be read, for the reason below.",
        "Fix the export (or the setting the reason names) and drop it in the folder again.",
        "",
        record.error,
    ]


def test_missing_columns_are_named_with_the_header_found(tmp_path: Path) -> None:
    header = CSV_HEADER.replace(",unit_price", ",price")
    drop(tmp_path, "a.csv", header + "\n" + csv_row("INV-1") + "\n")
    [record] = pull(files_adapter(tmp_path))
    assert record.error is not None
    assert record.error.startswith("a.csv: missing column(s) unit_price (the header has 'invoice_number'")
    assert "csv.columns" in record.error


def test_bad_numbers_and_dates_hold_back_their_invoice_only_and_name_the_rows(tmp_path: Path) -> None:
    rows = [
        csv_row("INV-1"),
        csv_row("INV-2", price="12,5O", amount="25.00"),
        csv_row("INV-3", invoice_date="2026-13-45"),
        csv_row("INV-4", qty="NaN", amount="25.00"),
        csv_row("INV-5", line=1) + "\n" + csv_row("INV-5", line=2, total="25.00", amount="99.00"),
        csv_row("INV-6"),
    ]
    drop(tmp_path, "mixed.csv", CSV_HEADER + "\n" + "\n".join(rows) + "\n")
    records = by_key(pull(files_adapter(tmp_path)))
    assert {k for k, r in records.items() if r.invoice is not None} == {"INV-1", "INV-6"}
    assert records["INV-2"].error == (
        "mixed.csv row 3: unit_price: '12,5O' is not a number (a decimal comma? set `csv.decimal_separator: ','`)"
    )
    assert records["INV-3"].error == (
        "mixed.csv row 4: invoice_date: '2026-13-45' is not a date like 2026-11-20 (csv.date_format '%Y-%m-%d')"
    )
    assert records["INV-4"].error == "mixed.csv row 5: quantity: 'NaN' is not a plain number"
    error = records["INV-5"].error or ""
    assert error.startswith("mixed.csv rows 6-7: ") and "line 2: amount 99.00 is not quantity 2" in error
    report = (tmp_path / "error" / "mixed.csv.error.txt").read_text().splitlines()
    assert report[0].startswith(
        "portalhub did not import everything in mixed.csv: 2 record(s) imported, 4 not"
    )
    assert report[3:] == [
        "row 3 (INV-2): unit_price: '12,5O' is not a number (a decimal comma? set `csv.decimal_separator: ','`)",
        "row 4 (INV-3): invoice_date: '2026-13-45' is not a date like 2026-11-20 (csv.date_format '%Y-%m-%d')",
        "row 5 (INV-4): quantity: 'NaN' is not a plain number",
        f"rows 6-7 (INV-5): {error.removeprefix('mixed.csv rows 6-7: ')}",
    ]


def test_rows_with_too_few_fields_and_without_a_number_are_held_back_alone(tmp_path: Path) -> None:
    drop(
        tmp_path,
        "broken.csv",
        "\n".join([CSV_HEADER, csv_row("INV-1"), "INV-2,C-1,ACME", "", csv_row(""), csv_row("INV-3")]) + "\n",
    )
    records = by_key(pull(files_adapter(tmp_path)))
    assert records["INV-2"].error == (
        "broken.csv row 3: has 3 fields, the header has 15 (a stray delimiter or quote?)"
    )
    assert records["broken.csv:row 5"].error == "broken.csv row 5: invoice_number is empty"  # row 4 was blank
    assert records["INV-1"].invoice is not None and records["INV-3"].invoice is not None


def test_an_invoices_rows_may_be_apart_but_must_agree(tmp_path: Path) -> None:
    rows = [
        csv_row("INV-1", line=1, total="50.00"),
        csv_row("INV-2"),
        csv_row("INV-1", line=2, total="50.00"),
        csv_row("INV-3", line=1, total="50.00"),
        csv_row("INV-3", line=2, total="50.00", currency="EUR"),
    ]
    drop(tmp_path, "apart.csv", CSV_HEADER + "\n" + "\n".join(rows) + "\n")
    records = by_key(pull(files_adapter(tmp_path)))
    invoice = records["INV-1"].invoice
    assert invoice is not None and [line.line_number for line in invoice.lines] == [1, 2]
    assert records["INV-3"].error == "apart.csv rows 5-6: rows 5 and 6 disagree on currency ('USD' / 'EUR')"


def test_a_latin1_export_holds_back_the_rows_it_garbles_and_reads_with_cp1252(tmp_path: Path) -> None:
    body = CSV_HEADER + "\n" + csv_row("INV-1") + "\n" + csv_row("INV-2", customer_name="Café Müller") + "\n"
    drop(tmp_path / "a", "latin.csv", body, encoding="latin-1")
    records = by_key(pull(files_adapter(tmp_path / "a")))
    assert records["INV-1"].invoice is not None
    assert records["INV-2"].error == (
        "latin.csv row 3: 'Caf\\\\xe9 M\\\\xfcller' has bytes that are not utf-8: the file seems to be "
        "Latin-1 / Windows-1252: export it as UTF-8, or set `csv.encoding: cp1252`"
    )
    drop(tmp_path / "b", "latin.csv", body, encoding="latin-1")
    records = by_key(pull(files_adapter(tmp_path / "b", csv={"encoding": "cp1252"})))
    invoice = records["INV-2"].invoice
    assert invoice is not None and invoice.buyer.name == "Café Müller"


def test_byte_order_marks_decide_the_encoding(tmp_path: Path) -> None:
    body = CSV_HEADER + "\r\n" + csv_row("INV-1", customer_name="Ölwerke Süd") + "\r\n"
    drop(tmp_path, "bom8.csv", codecs.BOM_UTF8 + body.encode("utf-8"))
    drop(tmp_path, "bom16.csv", body.encode("utf-16"))  # Python writes the BOM
    first, second = pull(files_adapter(tmp_path))
    # Different bytes, the same invoice: the hub takes the second as an unchanged re-export.
    assert first.invoice is not None and first.invoice.buyer.name == "Ölwerke Süd"
    assert second.invoice == first.invoice
    assert files_in(tmp_path) == ["done/bom16.csv", "done/bom8.csv"]


def test_utf16_without_a_byte_order_mark_is_named(tmp_path: Path) -> None:
    drop(tmp_path, "u16.csv", (CSV_HEADER + "\n" + csv_row("INV-1") + "\n").encode("utf-16-le"))
    [record] = pull(files_adapter(tmp_path))
    assert record.error is not None and "UTF-16 without a byte-order mark" in record.error
    drop(tmp_path / "again", "u16.csv", (CSV_HEADER + "\n" + csv_row("INV-1") + "\n").encode("utf-16-le"))
    [record] = pull(files_adapter(tmp_path / "again", csv={"encoding": "utf-16-le"}))
    assert record.invoice is not None


def test_a_buyer_name_can_come_from_the_customers_settings(tmp_path: Path) -> None:
    header = CSV_HEADER.replace("customer_name,", "")
    row = csv_row("INV-1").replace("ACME Manufacturing,", "")
    other = csv_row("INV-2", customer_id="C-9").replace("ACME Manufacturing,", "")
    drop(tmp_path, "names.csv", f"{header}\n{row}\n{other}\n")
    customers = {"C-1": {"name": "ACME Manufacturing", "party_id": "987654321"}}
    records = by_key(pull(files_adapter(tmp_path, customers=customers)))
    invoice = records["INV-1"].invoice
    assert invoice is not None and (invoice.buyer.name, invoice.buyer.party_id) == (
        "ACME Manufacturing",
        "987654321",
    )
    assert records["INV-2"].error == (
        "names.csv row 3: customer_name is empty and customer 'C-9' has no name under `customers:` in the config"
    )


def test_an_empty_file_and_a_broken_quote_are_file_problems(tmp_path: Path) -> None:
    drop(tmp_path, "empty.csv", "")
    [record] = pull(files_adapter(tmp_path))
    assert record.error == "empty.csv is empty (no header row)"
    drop(tmp_path, "huge.csv", CSV_HEADER + '\n"' + "x" * 200_000 + "\n")  # a quote never closed
    [record] = pull(files_adapter(tmp_path))
    assert record.error is not None and record.error.startswith("huge.csv row 2 cannot be read: field larger")
