"""Reading an uploaded CSV file, once for every importer (leads, commerce orders): the text of the
bytes (UTF-8 with or without BOM, UTF-16, Windows-1252, Latin-1; a binary file refused with what to
do), the delimiter the header line splits best on, and the records with their 1-based line numbers
so a bad row can be reported by line."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator

DELIMITERS = [",", ";", "\t", "|"]
csv.field_size_limit(1_000_000)


class ImportFileError(Exception):
    """The file cannot be read at all (not a CSV, no header, …)."""


def decode(data: bytes) -> tuple[str, str]:
    """The text of an uploaded file and the name of the encoding it was read with."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "UTF-8 (with BOM)"
        except UnicodeDecodeError:
            data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError as exc:
            raise ImportFileError("The file says it is UTF-16 but is not valid UTF-16.") from exc
    if b"\x00" in data[:4096]:
        raise ImportFileError("This looks like a binary file (a spreadsheet?). Save it as CSV and upload that.")
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "Latin-1 (ISO-8859-1)"


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the header line into the most columns (outside quotes)."""
    first = text.split("\n", 1)[0]
    best, best_count = ",", 0
    for delimiter in DELIMITERS:
        try:
            count = len(next(csv.reader([first], delimiter=delimiter), []))
        except csv.Error:
            continue
        if count > best_count:
            best, best_count = delimiter, count
    return best


def records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """``(line, values)`` for every non-blank record, the header first (line numbers are 1-based)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    try:
        for values in reader:
            end = reader.line_num
            if values and any(v.strip() for v in values):
                yield start, values
            start = end + 1
    except csv.Error as exc:
        raise ImportFileError(f"Line {reader.line_num}: the file is not valid CSV ({exc}).") from exc
