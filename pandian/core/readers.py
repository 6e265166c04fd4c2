"""Reading one release file into raw rows: CSV/TSV (any delimiter, with or without a header), JSON Lines, JSON (rows
anywhere in the document), XLSX. Every error names the file and the row as a person counts it in the file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Iterator

from pandian.core.errors import InputError


class DataError(InputError):
    def __init__(self, path: Path | str, message: str, row: int | str | None = None, field: str | None = None):
        self.path, self.row, self.field = str(path), row, field
        where = str(path)
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {message}")


def decode(path: Path, encoding: str = "utf-8") -> str:
    raw = path.read_bytes()
    utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8")
    try:
        return raw.decode("utf-8-sig" if utf8 else encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(path, f"not {'UTF-8' if utf8 else encoding} (byte {e.start}, line {line}); re-save the file "
                              "as UTF-8, or give the spec's encoding (e.g. gb18030)") from None
    except LookupError:
        raise DataError(path, f"unknown encoding {encoding!r}") from None


def read_rows(path: Path, fmt: str, header: bool = True, columns: list[str] | None = None, *,
              delimiter: str | None = None, items: str | None = None, encoding: str = "utf-8",
              sheet: str | None = None) -> Iterator[tuple[int, dict]]:
    """Yield (row number as a person counts it in the file, row dict)."""
    if not path.exists():
        raise DataError(path, "file not found")
    if fmt == "xlsx":
        rows = _xlsx(path, header, columns, sheet)
    elif fmt in ("csv", "tsv"):
        rows = _csv(path, header, columns, delimiter or ("\t" if fmt == "tsv" else ","), encoding)
    elif fmt == "jsonl":
        rows = _jsonl(path, columns, encoding)
    elif fmt == "json":
        rows = _json(path, columns, items, encoding)
    else:
        raise DataError(path, f"unsupported format '{fmt}'")
    n = 0
    for n, row in enumerate(rows, start=1):
        yield row
    if n == 0:
        raise DataError(path, "no rows: the file is empty")


def source_rows(path: Path, source) -> Iterator[tuple[int, dict]]:
    """read_rows with a spec's Source (format, header, columns, delimiter, items, encoding, sheet)."""
    return read_rows(path, source.format, source.header, source.columns, delimiter=source.delimiter,
                     items=source.items, encoding=source.encoding, sheet=source.sheet)


def _named(path: Path, rownum: int, values: list, columns: list[str] | None) -> dict:
    if columns is None:
        raise DataError(path, "the row is an array: name its positions with the spec's columns", row=rownum)
    if len(values) != len(columns):
        raise DataError(path, f"{len(values)} values but {len(columns)} columns", row=rownum)
    return dict(zip(columns, values))


def _xlsx(path: Path, header: bool, columns: list[str] | None, sheet: str | None):
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    if sheet is not None and sheet not in wb.sheetnames:
        raise DataError(path, f"no worksheet {sheet!r}; it has {', '.join(wb.sheetnames)}")
    rows = (wb[sheet] if sheet else wb.active).iter_rows(values_only=True)
    head = [str(h) if h is not None else "" for h in next(rows, ())] if header else columns
    for i, values in enumerate(rows, start=2 if header else 1):
        if all(v is None for v in values):
            continue
        if not header:
            values = list(values)
            while len(values) > len(head) and values[-1] is None:  # cells formatted but empty
                values.pop()
            yield i, _named(path, i, ["" if v is None else str(v) for v in values], head)
        else:
            yield i, {h: ("" if v is None else str(v)) for h, v in zip(head, values)}


def _csv(path: Path, header: bool, columns: list[str] | None, delimiter: str, encoding: str):
    reader = csv.reader(io.StringIO(decode(path, encoding), newline=""), delimiter=delimiter)
    head = (next(reader, None) or []) if header else (columns or [])
    for values in reader:
        if not values:
            continue
        if len(values) != len(head):
            raise DataError(path, f"{len(values)} values but {len(head)} columns", row=reader.line_num)
        yield reader.line_num, dict(zip(head, values))


def _jsonl(path: Path, columns: list[str] | None, encoding: str):
    for i, line in enumerate(decode(path, encoding).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            hint = " (the file holds one JSON document: use format: json)" if i == 1 and line.strip() in "[{" else ""
            raise DataError(path, f"invalid JSON: {e.msg}{hint}", row=i) from None
        if isinstance(obj, list):
            obj = _named(path, i, obj, columns)
        if not isinstance(obj, dict):
            raise DataError(path, "each line must be a JSON object", row=i)
        yield i, obj


def locate(doc, items: str, path: Path):
    """The value at a key path ("example", "data.items", "data.0") or a JSON pointer ("/data/items")."""
    keys = [k.replace("~1", "/").replace("~0", "~") for k in items[1:].split("/")] if items.startswith("/") \
        else items.split(".")
    node, walked = doc, []
    for key in keys:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.lstrip("-").isdigit() and -len(node) <= int(key) < len(node):
            node = node[int(key)]
        else:
            here = f" under {'.'.join(walked)}" if walked else ""
            has = f"; keys there: {', '.join(map(str, list(node)[:12]))}" if isinstance(node, dict) else ""
            raise DataError(path, f"items: no {key!r}{here}{has}")
        walked.append(key)
    return node


def _json(path: Path, columns: list[str] | None, items: str | None, encoding: str):
    try:
        doc = json.loads(decode(path, encoding))
    except json.JSONDecodeError as e:
        raise DataError(path, f"invalid JSON: {e.msg} (line {e.lineno})") from None
    if items is not None:
        doc = locate(doc, items, path)
    elif isinstance(doc, dict) and len(doc) == 1 and isinstance(next(iter(doc.values())), list):
        doc = next(iter(doc.values()))  # one wrapping key around the rows
    if isinstance(doc, dict) and doc and all(isinstance(v, dict) for v in doc.values()):
        for i, (key, item) in enumerate(doc.items(), start=1):
            yield i, {"_key": key, **item}
        return
    if not isinstance(doc, list):
        keys = f" (its keys: {', '.join(map(str, list(doc)[:12]))}; say which holds the rows with items)" \
            if isinstance(doc, dict) else ""
        raise DataError(path, f"expected a JSON array of objects{keys}")
    for i, item in enumerate(doc, start=1):
        if isinstance(item, list):
            item = _named(path, i, item, columns)
        if not isinstance(item, dict):
            raise DataError(path, "each item must be a JSON object", row=i)
        yield i, item
