"""Which files a split reads, and their raw rows: {placeholders} in a path filled in or found on disk, fields joined
from another file by a key, and the spec's preprocess hook."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

from pandian.core.placeholders import PLACEHOLDER as _PLACEHOLDER, placeholders
from pandian.core.readers import DataError, source_rows
from pandian.core.spec import BenchmarkSpec, Source, SpecError


@dataclass(frozen=True)
class DataFile:
    path: Path
    subject: str | None  # from {subject}
    values: dict = field(default_factory=dict)  # the other placeholders' values, which become row fields


def _discover(data_dir: Path, template: str) -> list[tuple[Path, dict]]:
    """Files matching a path whose {placeholders} are unknown, with each placeholder's value; a placeholder used
    twice must match the same text both times."""
    names = placeholders(template)
    glob, regex, seen = "", "", set()
    for part in re.split(r"(\{\w+\})", template):
        m = _PLACEHOLDER.fullmatch(part)
        if not m:
            glob += re.sub(r"([*?\[])", r"[\1]", part)
            regex += re.escape(part)
        else:
            glob += "*"
            regex += f"(?P={m[1]})" if m[1] in seen else f"(?P<{m[1]}>[^/]+?)"
            seen.add(m[1])
    found = []
    for p in sorted(data_dir.glob(glob)):
        m = re.fullmatch(regex, p.relative_to(data_dir).as_posix())
        if m and p.is_file():
            found.append((p, {n: m[n] for n in names}))
    return found


def files_of(spec: BenchmarkSpec, data_dir: Path, split: str, subjects: list[str] | None) -> list[DataFile]:
    """The files of a split. subjects: which {subject} files to read (None: those the spec lists, else all on
    disk). Other placeholders are always found on disk. A missing file is returned as it is named, for the caller
    to report (or read from the hub)."""
    template = spec.data.local.path.replace("{split}", split)
    if "{subject}" in template:
        subjects = subjects if subjects is not None else list(spec.subjects) if spec.subjects else None
    targets = [(s, template.replace("{subject}", s)) for s in subjects] if subjects is not None and \
        "{subject}" in template else [(None, template)]
    out = []
    for subject, t in targets:
        if not placeholders(t):
            out.append(DataFile(data_dir / t, subject))
            continue
        found = _discover(data_dir, t)
        if not found:
            raise SpecError(f"{spec.name}: no files match {t} under {data_dir}"
                            + (f"; download {spec.data.release} and pass --data-dir" if spec.data.release else ""))
        for path, values in found:
            s = values.pop("subject", subject)
            out.append(DataFile(path, s, values))
    return out


def discovered_subjects(spec: BenchmarkSpec, data_dir: Path, split: str) -> list[str]:
    return list(dict.fromkeys(f.subject for f in files_of(spec, data_dir, split, None)))


def splits_on_disk(spec: BenchmarkSpec, data_dir: Path) -> list[str]:
    """The {split} values of the files under data_dir (none when the path has no {split})."""
    if "{split}" not in spec.data.local.path:
        return []
    return sorted({values["split"] for _, values in _discover(data_dir, spec.data.local.path)})


# ---------------------------------------------------------------- rows of one file


def _fill(template: str, split: str, df: DataFile) -> str:
    values = {"split": split, **({"subject": df.subject} if df.subject is not None else {}), **df.values}
    missing = [n for n in placeholders(template) if n not in values]
    if missing:
        raise SpecError(f"{template}: no value for {{{missing[0]}}} (known here: {', '.join(values)})")
    return _PLACEHOLDER.sub(lambda m: str(values[m[1]]), template)


def _joined(source: Source, path: Path, file_key: str) -> dict[str, dict]:
    table: dict[str, dict] = {}
    for rownum, row in source_rows(path, source):
        if file_key not in row:
            raise DataError(path, f"missing (fields present: {', '.join(map(str, row))})", row=rownum,
                            field=file_key)
        table[str(row[file_key]).strip()] = row
    return table


def _hook(spec: BenchmarkSpec):
    if not spec.code_allowed:
        raise SpecError(f"{spec.name}: the spec runs Python ({spec.preprocess}) on its rows; pass --trust-spec-code "
                        "if you trust it")
    file, name = spec.preprocess_file(), spec.preprocess.split(":")[1]
    module_spec = importlib.util.spec_from_file_location(f"pandian_preprocess_{file.stem}", file)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:
        raise SpecError(f"{file}: importing it failed: {type(e).__name__}: {e}") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise SpecError(f"{file}: no function {name}")
    return fn


def file_rows(spec: BenchmarkSpec, data_dir: Path, split: str, df: DataFile) -> tuple[str, list[tuple[int, dict]]]:
    """(the name errors give the rows, [(row number, row)]) with placeholders, joined fields and preprocess."""
    rows = list(source_rows(df.path, spec.data.local))
    if df.values:
        rows = [(n, {**df.values, **r}) for n, r in rows]
    join = spec.data.join
    if join is not None:
        jpath = data_dir / _fill(join.path, split, df)
        table = _joined(join, jpath, join.file_key)
        merged = []
        for n, r in rows:
            if join.key not in r:
                raise DataError(df.path, f"missing (fields present: {', '.join(map(str, r))})", row=n, field=join.key)
            other = table.get(str(r[join.key]).strip())
            if other is None:
                raise DataError(df.path, f"{join.key} {r[join.key]!r} has no row in {jpath}", row=n, field=join.key)
            merged.append((n, {**other, **r}))
        rows = merged
    if spec.preprocess is None:
        return str(df.path), rows
    out = _hook(spec)([r for _, r in rows])
    if not isinstance(out, list) or not all(isinstance(r, dict) for r in out):
        raise SpecError(f"{spec.preprocess} must return a list of dicts, got {type(out).__name__}")
    # Its rows are numbered by their place in what the hook returned.
    return f"{df.path} (after {spec.preprocess})", list(enumerate(out, start=1))


def source_files(spec: BenchmarkSpec, data_dir: Path, split: str) -> list[Path]:
    """Every file a split's questions depend on: data files, joined files and the preprocess hook."""
    files = files_of(spec, data_dir, split, None)
    paths = [f.path for f in files]
    if spec.data.join is not None:
        paths += [data_dir / _fill(spec.data.join.path, split, f) for f in files]
    if spec.preprocess is not None:
        paths.append(spec.preprocess_file())
    return list(dict.fromkeys(paths))
