"""The one way the domain turns a request down: a message in words for the person who asked, and
which kind of no it is, so every service says it alike and the web maps it to one status."""

from __future__ import annotations

from enum import StrEnum


class Why(StrEnum):
    BAD_REQUEST = "bad-request"  # the request itself is wrong
    NOT_FOUND = "not-found"  # what it names does not exist
    CONFLICT = "conflict"  # not now: the call or ticket is not in a state for it
    TELEPHONY = "telephony"  # Asterisk refused
    UNAVAILABLE = "unavailable"  # nobody to ask: Asterisk or AMI is down, or did not answer


class Refused(Exception):
    def __init__(self, message: str, why: Why = Why.CONFLICT):
        super().__init__(message)
        self.why = why
