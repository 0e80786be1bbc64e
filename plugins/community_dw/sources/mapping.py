"""Mapping files: a department's headers (or JSON fields) to the warehouse's canonical columns."""

from __future__ import annotations

import fnmatch
import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from community_dw.sources.delivery import DeliveryError

MAPPINGS_DIR = Path(__file__).parent / "mappings"

# Whitespace of any kind (NFKC already turned U+3000 into a plain space) and invisible format
# characters (BOM, zero-width space/joiners) that exports leave inside header cells.
_INVISIBLE = re.compile(r"[\s\u200b-\u200f\u2060\ufeff]+")


def normalize_header(text: object) -> str:
    """The form two headers are compared in: NFKC (full-width letters, digits and punctuation to
    their plain forms), every space and invisible character removed, case folded, and a leading
    "*" dropped (templates mark required columns with it)."""
    if text is None:
        return ""
    folded = unicodedata.normalize("NFKC", str(text))
    folded = _INVISIBLE.sub("", folded).casefold()
    return folded.lstrip("*")


@dataclass(frozen=True)
class ColumnSpec:
    header: str  # the department's own label; also the warehouse column comment
    column: str  # canonical snake_case column name
    required: bool = False
    comment: str = ""
    aliases: tuple[str, ...] = ()
    only_for: tuple[str, ...] = ()  # file-name patterns this column belongs to (e.g. delta files only)

    def applies_to(self, delivery: str) -> bool:
        return not self.only_for or any(_name_matches(delivery, pattern) for pattern in self.only_for)

    @property
    def label(self) -> str:
        """Column comment for the warehouse: the Chinese label, then the note if any."""
        return f"{self.header} — {self.comment}" if self.comment and self.comment != self.header else self.header


@dataclass(frozen=True)
class HeaderMatch:
    """How a delivery's headers (by position) line up with a mapping."""

    positions: dict[int, str]  # position in the delivery -> canonical column
    unknown_positions: list[int]  # positions of headers the mapping does not know
    unknown: list[str]  # those headers, as delivered
    missing_optional: list[str]  # canonical columns the mapping expects but the delivery lacks
    rename: dict[str, str] = field(default_factory=dict)  # delivered header -> canonical column


@dataclass(frozen=True)
class Mapping:
    name: str  # file stem, e.g. "public_security_residents"
    delivery: str  # e.g. "public_security.residents"
    columns: tuple[ColumnSpec, ...]
    file_patterns: tuple[str, ...] = ()
    raw_table: str | None = None
    description: str = ""

    @functools.cached_property
    def order(self) -> dict[str, int]:
        return {spec.column: index for index, spec in enumerate(self.columns)}

    @functools.cached_property
    def _lookup(self) -> dict[str, ColumnSpec]:
        lookup: dict[str, ColumnSpec] = {}
        for spec in self.columns:
            for text in (spec.header, *spec.aliases, spec.column):
                key = normalize_header(text)
                other = lookup.get(key)
                if other is not None and other.column != spec.column:
                    raise ValueError(f"mapping {self.name}: header {text!r} names both {other.column} and {spec.column}")
                lookup[key] = spec
        return lookup

    @property
    def comments(self) -> dict[str, str]:
        """canonical column -> its label, for `comment on column` in the warehouse."""
        return {spec.column: spec.label for spec in self.columns}

    def spec_for(self, header: object) -> ColumnSpec | None:
        return self._lookup.get(normalize_header(header))

    def matches_file(self, file_name: str) -> bool:
        return any(_name_matches(file_name, pattern) for pattern in self.file_patterns)

    def expected(self, delivery: str) -> list[ColumnSpec]:
        return [spec for spec in self.columns if spec.applies_to(delivery)]

    def score_headers(self, headers: Sequence[object], delivery: str) -> tuple[int, int]:
        """(required columns found, columns found): how well a row of cells looks like this header."""
        found = {spec.column for header in headers if (spec := self.spec_for(header)) is not None}
        expected = self.expected(delivery)
        return (sum(spec.required and spec.column in found for spec in expected), len(found))

    def match_headers_positional(self, headers: Sequence[object], delivery: str) -> HeaderMatch:
        """Line up delivered headers with the mapping; raises DeliveryError for a missing required column.

        A header the mapping does not know is kept (unknown, stored as JSON in `extra`); two headers
        that name the same canonical column are an error, because either choice would lose data.
        """
        positions: dict[int, str] = {}
        first_header: dict[str, str] = {}
        unknown_positions: list[int] = []
        unknown: list[str] = []
        rename: dict[str, str] = {}
        for position, header in enumerate(headers):
            text = "" if header is None else str(header)
            spec = self.spec_for(text)
            if spec is None:
                unknown_positions.append(position)
                unknown.append(text)
                continue
            if spec.column in first_header:
                raise DeliveryError(
                    delivery,
                    f"columns {first_header[spec.column]!r} and {text!r} both map to {spec.column}",
                    column=text,
                )
            first_header[spec.column] = text
            positions[position] = spec.column
            rename[text] = spec.column
        missing_optional: list[str] = []
        for spec in self.expected(delivery):
            if spec.column in first_header:
                continue
            if spec.required:
                raise DeliveryError(
                    delivery,
                    f"required column {spec.header} ({spec.column}) is missing; headers found: "
                    + ", ".join(str(h) for h in headers if h not in (None, "")),
                    column=spec.header,
                )
            missing_optional.append(spec.column)
        return HeaderMatch(positions, unknown_positions, unknown, missing_optional, rename)

    def match_headers(self, headers: Sequence[object], delivery: str) -> tuple[dict[str, str], list[str], list[str]]:
        """(rename {delivered header: canonical}, unknown headers, missing optional canonical columns)."""
        match = self.match_headers_positional(headers, delivery)
        return match.rename, match.unknown, match.missing_optional


def _name_matches(file_name: str, pattern: str) -> bool:
    # Departments are not consistent about case (RESIDENTS_FULL_….CSV); the pattern is what matters.
    return fnmatch.fnmatchcase(file_name.lower(), pattern.lower())


def _parse(name: str, document: dict) -> Mapping:
    try:
        columns = tuple(
            ColumnSpec(
                header=str(entry["header"]),
                column=str(entry["column"]),
                required=bool(entry.get("required", False)),
                comment=str(entry.get("comment") or ""),
                aliases=tuple(str(a) for a in entry.get("aliases") or ()),
                only_for=tuple(str(p) for p in entry.get("only_for") or ()),
            )
            for entry in document["columns"]
        )
        mapping = Mapping(
            name=name,
            delivery=str(document["delivery"]),
            columns=columns,
            file_patterns=tuple(str(p) for p in document.get("file_patterns") or ()),
            raw_table=document.get("raw_table"),
            description=str(document.get("description") or ""),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"mapping {name}: malformed ({exc!r})") from exc
    canonical = [spec.column for spec in columns]
    if len(set(canonical)) != len(canonical):
        raise ValueError(f"mapping {name}: a canonical column is listed twice")
    _ = mapping._lookup  # validate: no header or alias names two columns
    return mapping


@functools.cache
def load_mapping(name: str) -> Mapping:
    """The mapping in sources/mappings/<name>.yaml (name without extension)."""
    path = MAPPINGS_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(mapping_names())
        raise LookupError(f"no mapping named {name!r} (known: {known})")
    return _parse(name, yaml.safe_load(path.read_text(encoding="utf-8")))


def mapping_names() -> list[str]:
    return sorted(path.stem for path in MAPPINGS_DIR.glob("*.yaml"))


def all_mappings() -> list[Mapping]:
    return [load_mapping(name) for name in mapping_names()]


def mapping_for_file(file_name: str) -> Mapping:
    """The one mapping whose file_patterns match this delivered file name; DeliveryError otherwise."""
    found = [mapping for mapping in all_mappings() if mapping.matches_file(file_name)]
    if not found:
        raise DeliveryError(file_name, "no mapping file matches this file name")
    if len(found) > 1:
        names = ", ".join(m.name for m in found)
        raise DeliveryError(file_name, f"file name matches several mappings ({names})")
    return found[0]
