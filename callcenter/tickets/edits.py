"""What a call-taker may change on a ticket, checked before anything is stored. Plain logic.

API bodies are untrusted: every field is checked for type, length and meaning (a category that
exists, a kelurahan of that kecamatan, a checklist item that is on a card), and the first problem
becomes an EditError naming the field. Nothing is truncated silently and nothing half-applies.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Free-text fields and their longest accepted length (a call-taker's notes, not essays).
TEXT_FIELDS = {"what": 4000, "where": 2000, "who": 2000, "address": 500, "landmark": 500}
# Flags a call-taker sets by hand; the others (overflow, silent-but-present, …) come from the call.
CALLTAKER_FLAGS = ("prank", "silent")
# How a call is classified when its ticket is closed: the call types Indonesian 112 centres report.
OUTCOMES = ("darurat", "informasi", "prank", "ghost", "tidak-tercatat")


class EditError(ValueError):
    """The edit is refused; `field` names what is wrong."""

    def __init__(self, field_name: str, problem: str):
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name


@dataclass(frozen=True)
class TicketEdit:
    """A checked edit: only the keys the body named are present."""

    text: dict[str, str] = field(default_factory=dict)
    category: str | None = None  # set only when `has_category`
    has_category: bool = False
    # kecamatan/kelurahan as the gazetteer spells them ("" clears); present only when named.
    place: dict[str, str] = field(default_factory=dict)
    flags: dict[str, bool] = field(default_factory=dict)
    checklist: dict[str, bool] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.text or self.has_category or self.place or self.flags or self.checklist)


def clean_text(value: str) -> str:
    """Notes keep their line breaks and tabs; other control characters are dropped."""
    return "".join(
        c for c in value if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Cs")
    ).strip()


def parse_edit(
    body: Mapping[str, Any],
    *,
    categories: set[str],
    places: Mapping[str, list[str]],
    items: set[str],
) -> TicketEdit:
    """Check a PATCH body. `places`: kecamatan → its kelurahan; `items`: protocol item ids."""
    allowed = {*TEXT_FIELDS, "category", "kecamatan", "kelurahan", "flags", "checklist"}
    for key in body:
        if key not in allowed:
            editable = ", ".join(sorted(allowed))
            raise EditError(str(key)[:40], f"cannot be edited (editable: {editable})")
    text: dict[str, str] = {}
    for name, longest in TEXT_FIELDS.items():
        if name in body:
            value = body[name]
            if not isinstance(value, str):
                raise EditError(name, "must be text")
            value = clean_text(value)
            if len(value) > longest:
                raise EditError(name, f"longer than {longest} characters ({len(value)})")
            text[name] = value
    category = body.get("category")
    if category is not None and (not isinstance(category, str) or category not in categories):
        raise EditError("category", f"unknown category (known: {', '.join(sorted(categories))})")
    return TicketEdit(
        text=text,
        category=category,
        has_category="category" in body,
        place=_place(body, places),
        flags=_switches(body, "flags", set(CALLTAKER_FLAGS)),
        checklist=_switches(body, "checklist", items),
    )


def _place(body: Mapping[str, Any], places: Mapping[str, list[str]]) -> dict[str, str]:
    place: dict[str, str] = {}
    for name in ("kecamatan", "kelurahan"):
        if name in body:
            value = body[name]
            if value is None:
                value = ""
            if not isinstance(value, str) or len(value) > 64:
                raise EditError(name, "must be a place name")
            place[name] = value
    kecamatan, kelurahan = place.get("kecamatan"), place.get("kelurahan")
    if kecamatan and kecamatan not in places:
        raise EditError("kecamatan", f"not a kecamatan of Kota Malang ({', '.join(places)})")
    if kelurahan:
        if kecamatan is None:
            raise EditError("kelurahan", "give the kecamatan with it")
        if kelurahan not in places.get(kecamatan, []):
            raise EditError("kelurahan", f"not a kelurahan of kecamatan {kecamatan or '(none)'}")
    if kecamatan == "" and "kelurahan" not in place:
        place["kelurahan"] = ""  # clearing the kecamatan clears its kelurahan
    return place


def _switches(body: Mapping[str, Any], name: str, known: set[str]) -> dict[str, bool]:
    if name not in body:
        return {}
    value = body[name]
    if not isinstance(value, dict) or len(value) > 100:
        raise EditError(name, 'must be an object like {"<name>": true}')
    for key, on in value.items():
        if key not in known:
            raise EditError(f"{name}.{str(key)[:40]}", "unknown")
        if not isinstance(on, bool):
            raise EditError(f"{name}.{key}", "must be true or false")
    return dict(value)


def parse_outcome(body: Mapping[str, Any]) -> str:
    outcome = body.get("outcome")
    if not isinstance(outcome, str) or outcome not in OUTCOMES:
        raise EditError("outcome", f"must be one of {', '.join(OUTCOMES)}")
    return outcome
