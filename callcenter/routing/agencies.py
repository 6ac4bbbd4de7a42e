"""Category → agency: plain lookups over the configuration."""

from __future__ import annotations

from ..config import Agency, Config


def agency_for(config: Config, category: str | None) -> Agency:
    """The agency an overflowing call goes to: the first that serves its category, else the
    default agency (a caller who chose nothing may still be in danger)."""
    if category:
        for agency in config.agencies:
            if category in agency.categories:
                return agency
    default = config.agency(config.ivr.default_agency)
    if default is None:
        raise LookupError("no default agency configured (ivr.default_agency)")
    return default
