"""Protocol cards: for each category, a short Indonesian checklist of what the call-taker asks and
tells the caller, shown beside the ticket and ticked off into it.

The cards ship as a data file (`data/protocols-id.toml`); a supervisor's edit of a card is kept in
the database and wins over the file. An item's id is derived from its words, so a ticked item
stays what it was even after a supervisor rewrites the card (the ticket keeps the text too).
"""

from __future__ import annotations

import hashlib
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .protocol_cards import ProtocolCards

DATA = Path(__file__).parent / "data" / "protocols-id.toml"
# Asked on every call, whatever the category.
GENERAL = "umum"
MAX_ITEMS = 30
MAX_ITEM_LENGTH = 300


class CardError(ValueError):
    """A card (file or supervisor's edit) is wrong; the message names where."""


@dataclass(frozen=True)
class Item:
    id: str
    kind: str  # "ask" or "tell"
    text: str


def item_id(kind: str, text: str) -> str:
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class Card:
    category: str
    items: tuple[Item, ...]
    updated_by: str | None = None  # None: as shipped

    def as_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "ask": [{"id": i.id, "text": i.text} for i in self.items if i.kind == "ask"],
            "tell": [{"id": i.id, "text": i.text} for i in self.items if i.kind == "tell"],
            "updated_by": self.updated_by,
        }


def make_card(category: str, ask: list[str], tell: list[str], updated_by: str | None) -> Card:
    items = [
        Item(item_id(kind, t), kind, t)
        for kind, texts in (("ask", ask), ("tell", tell))
        for t in texts
    ]
    return Card(category, tuple(items), updated_by)


def check_items(where: str, value: Any) -> list[str]:
    """A list of item texts, or a CardError naming `where`."""
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise CardError(f"{where}: must be a list of texts")
    if any(unicodedata.category(c) == "Cs" for t in value for c in t):
        raise CardError(f"{where}: not text (a lone surrogate)")
    texts = ["".join(c for c in t if unicodedata.category(c) != "Cc").strip() for t in value]
    if len(texts) > MAX_ITEMS:
        raise CardError(f"{where}: at most {MAX_ITEMS} items")
    for t in texts:
        if not t or len(t) > MAX_ITEM_LENGTH:
            raise CardError(f"{where}: each item 1-{MAX_ITEM_LENGTH} characters")
    if len(set(texts)) != len(texts):
        raise CardError(f"{where}: the same item twice")
    return texts


def load_cards(categories: Iterable[str], path: Path = DATA) -> dict[str, Card]:
    """The shipped cards; a wrong file stops start-up with the file and key named."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise CardError(f"{path}: {e}") from None
    known = {*categories, GENERAL}
    cards = {}
    for category, table in data.items():
        if category not in known:
            raise CardError(f"{path}: {category}: not a configured category")
        if not isinstance(table, dict) or set(table) - {"ask", "tell"}:
            raise CardError(f"{path}: {category}: a table with ask and tell lists")
        ask = check_items(f"{path}: {category}.ask", table.get("ask", []))
        tell = check_items(f"{path}: {category}.tell", table.get("tell", []))
        cards[category] = make_card(category, ask, tell, None)
    return cards


class Protocols:
    """The cards in force: a supervisor's version where there is one, else the shipped one."""

    def __init__(self, shipped: Mapping[str, Card], edits: ProtocolCards):
        self._shipped = dict(shipped)
        self._edited: dict[str, Card] = {}
        self._edits = edits

    async def load_edits(self) -> None:
        """Supervisors' versions of the cards, kept in the database, win over the shipped ones."""
        self._use_edits(
            make_card(c.category, c.ask, c.tell, c.updated_by) for c in await self._edits.all()
        )

    async def save(self, category: str, ask: list[str], tell: list[str], actor: str) -> Card:
        """A supervisor's version of a card: kept, and in force from now on."""
        saved = await self._edits.save(category, ask, tell, actor)
        card = make_card(category, saved.ask, saved.tell, saved.updated_by)
        self._use_edits([card])
        return card

    def _use_edits(self, edits: Iterable[Card]) -> None:
        for card in edits:
            self._edited[card.category] = card

    def card(self, category: str) -> Card | None:
        return self._edited.get(category) or self._shipped.get(category)

    def for_ticket(self, category: str | None) -> list[Card]:
        """The general card, then the category's (if it has one)."""
        cards = [self.card(GENERAL), self.card(category) if category else None]
        return [c for c in cards if c is not None]

    def all(self) -> list[Card]:
        return [c for c in (self.card(k) for k in {**self._shipped, **self._edited}) if c]

    def items(self) -> dict[str, str]:
        """Every item id on a card in force, with its text."""
        return {i.id: i.text for card in self.all() for i in card.items}
