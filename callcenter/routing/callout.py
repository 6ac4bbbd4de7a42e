"""Calling an agency's desk phone about an assignment: whom to call, what it hears, what its keys
mean. Plain rules, no I/O; routing/callouts.py places the calls and takes their keys.

The desk phone hears the ticket's number digit by digit, its category and its kelurahan (the
kecamatan when no kelurahan is known), then "press 1 to accept, 2 to decline". Every piece is a
pre-rendered prompt (ivr-prompts/id/prompts.txt), so nothing is synthesised while the agency waits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

from ..config import Agency
from .agency_loop import AGENCY_ROLE, Mover, Status, re_alert_target

# The briefing's fixed pieces, and what the phone hears after its key (played by the dialplan).
TICKET = "id/callout/ticket"
CATEGORY_UNKNOWN = "id/callout/category-unknown"
PLACE_UNKNOWN = "id/callout/place-unknown"
PRESS = "id/callout/press"
ACCEPTED = "id/callout/accepted"
DECLINED = "id/callout/declined"
NO_KEY = "id/callout/no-key"
DIGIT = "id/digits/{}"
CATEGORY = "id/category/{}"
KECAMATAN = "id/place/kec-{}"
KELURAHAN = "id/place/kel-{}"

# What a key on the desk phone does to the assignment; any other key does nothing.
KEYS = {"1": Status.ACKNOWLEDGED, "2": Status.DECLINED}
DECLINE_REASON = "ditolak lewat telepon"

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slug(name: str) -> str:
    """A place or category name as part of a prompt's file name: "Oro-oro Dowo" → "oro-oro-dowo"."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _NOT_SLUG.sub("-", plain.lower()).strip("-")


def place_prompt(kecamatan: str | None, kelurahan: str | None) -> str:
    """The prompt naming where the ticket is: its kelurahan, else its kecamatan, else "location
    not known yet"."""
    if kelurahan and slug(kelurahan):
        return KELURAHAN.format(slug(kelurahan))
    if kecamatan and slug(kecamatan):
        return KECAMATAN.format(slug(kecamatan))
    return PLACE_UNKNOWN


def briefing(
    ticket_id: int,
    category: str | None,
    kecamatan: str | None,
    kelurahan: str | None,
    available: Collection[str],
) -> tuple[str, ...]:
    """What the desk phone hears, as prompt names in order. `available`: the prompts that exist;
    a category or place without one is left out (or said to be unknown) rather than played as
    silence, so the phone always hears the ticket number and the keys."""
    prompts = [TICKET, *(DIGIT.format(d) for d in str(ticket_id))]
    if category:
        named = CATEGORY.format(slug(category))
        if named in available:
            prompts.append(named)
    else:
        prompts.append(CATEGORY_UNKNOWN)
    place = place_prompt(kecamatan, kelurahan)
    if place not in available and kelurahan and kecamatan:
        place = place_prompt(kecamatan, None)
    prompts.append(place if place in available else PLACE_UNKNOWN)
    prompts.append(PRESS)
    return tuple(prompts)


def targets(agency: Agency) -> list[str]:
    """A first callout rings the primary, then the backup if the primary does not answer."""
    return agency.targets()


def re_alert_targets(agency: Agency) -> list[str]:
    """A re-alert rings the backup (the primary did not respond), or the primary again."""
    return [re_alert_target(agency)]


def status_for_key(key: str) -> Status | None:
    """The move a key asks for; None for no key or a key that means nothing here."""
    return KEYS.get(key)


def text_for(status: Status) -> str:
    """The decline's reason (a decline needs one); nothing for an acknowledgement."""
    return DECLINE_REASON if status == Status.DECLINED else ""


def phone_mover(agency: str, target: str) -> Mover:
    """Who moved the assignment: the agency's desk phone that pressed the key."""
    return Mover(name=f"telepon {target}"[:64], role=AGENCY_ROLE, agency=agency)


def place_prompt_lines(districts: dict[str, list[str]]) -> list[str]:
    """The ivr-prompts/id/prompts.txt lines for every kecamatan and kelurahan of the gazetteer
    (speech/meaning.py, Gazetteer.districts()). prompts.txt holds them as generated here
    (tests/unit/test_callout.py checks it), so a place added to the gazetteer means
    regenerating that block and `callcenter prompts build --missing`."""
    lines = []
    for kecamatan, kelurahan in districts.items():
        # Names inside the language directory, where prompts.txt is.
        name = KECAMATAN.format(slug(kecamatan)).removeprefix("id/")
        lines.append(f"{name}|kecamatan {kecamatan}")
        for k in kelurahan:
            name = KELURAHAN.format(slug(k)).removeprefix("id/")
            lines.append(f"{name}|kelurahan {k}")
    return lines
