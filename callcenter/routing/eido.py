"""The incident as a NENA EIDO document (NENA-STA-021, EIDO 1.0, JSON), for agencies whose systems
speak it. Plain logic: the caller fills the view dataclasses below from the repositories, and
`eido_document` shapes them; nothing here reads the database or the configuration.

Field names, required members and registry values follow the public NENA911/EIDO-JSON repository
(Schema/openapi.yaml and the STA-021 tables of its registries). The document states the incident
as it is now, not its history (STA-021 section 2: history is the logging service's job).

Every text from a ticket is untrusted (a caller's words, a call-taker's typing): it is cleaned of
what neither JSON consumers nor XML accept, HTML-escaped where EIDO carries HTML (notes) and
XML-escaped inside the PIDF-LO location.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

EIDO_VERSION = "1.0"

# Our dispatch statuses (issue 14) → EIDO's Primary Unit Status-Common (STA-021 table 3-9) and
# Secondary Unit Status-Common (table 3-10). An agency holding a case is not free for it again
# until it clears or declines, so everything before `cleared` is NotAvailable.
UNIT_STATUS: dict[str, tuple[str, tuple[str, ...]]] = {
    "assigned": ("NotAvailable", ("Assigned",)),
    "acknowledged": ("NotAvailable", ("AcknowledgedTransmission",)),
    "en-route": ("NotAvailable", ("EnRoute",)),
    "on-scene": ("NotAvailable", ("OnScene",)),
    "cleared": ("Available", ("Cleared",)),
    "declined": ("Available", ("AssignmentCancelled",)),
}

# Our categories → EIDO's Incident Type-Common (table 3-2, APCO ANS 2.103.2). A category only says
# which service is needed, so each maps to the registry's broad code for that service.
INCIDENT_TYPE = {
    "police": "SUSP",  # suspicious incident, circumstances, unknown problems
    "ambulance": "BLS",  # basic life support incident
    "electricity": "PUBWKS",  # public works / utilities
    "public-order": "DISORD",  # disorderly
    "fire": "FUNK",  # fire, unknown
    "informasi": "NONEMERG",
}
UNKNOWN_INCIDENT_TYPE = "TROUBLE"  # unknown type trouble: no category chosen yet

# Our categories → EIDO's Emergency Resource Type-Common (table 3-11), for the agency that serves
# the category; CommandLevel4 ("initial responding resources") when nothing closer fits.
RESOURCE_TYPE = {
    "police": "PatrolUnit",
    "ambulance": "GroundBLSAmbulance",
    "electricity": "MaintenanceandRepairTeam",
    "public-order": "CivilServiceOfficer",
    "fire": "StructureFireEngineType1",
}
UNKNOWN_RESOURCE_TYPE = "CommandLevel4"

# Our categories → agencyType, a value of the IANA urn:emergency:service:responder registry
# without that prefix (STA-021 section 2.6).
AGENCY_TYPE = {
    "police": "police",
    "public-order": "police",
    "ambulance": "ems",
    "fire": "fire",
}
UNKNOWN_AGENCY_TYPE = "other"

# Incident Status-Common (table 3-3) of an open incident, from the furthest any agency has got.
_RESOURCES_STATUS = (
    ("on-scene", "ResourcesOnscene"),
    ("en-route", "ResourcesEnroute"),
    ("acknowledged", "ResourcesAssigned"),
    ("assigned", "ResourcesAssigned"),
)

# Neither XML 1.0 nor UTF-8 can carry these: C0 controls but tab/newline/return, lone surrogates,
# and the two non-characters XML forbids. They become U+FFFD so the reader sees something was
# there.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# In a call identifier's unique string: what is not a letter or digit, and x, the escape itself.
_ESCAPED_IN_CALL_ID = re.compile("[^A-Za-z0-9]|x")
_NOT_DOMAIN = re.compile("[^a-z0-9-]+")


@dataclass(frozen=True)
class Region:
    """Where the centre is, for the civic address (RFC 4776/5139): country (ISO 3166 alpha-2),
    A1 the province, A3 the city; a ticket adds A4 kecamatan and A5 kelurahan."""

    country: str = "ID"
    a1: str = "Jawa Timur"
    a3: str = "Kota Malang"


@dataclass(frozen=True)
class Note:
    """A note on the ticket: what it says, who wrote it (username), when, and for which agency
    (its [[agencies]] id; None: the centre's own)."""

    text: str
    author: str
    at: datetime
    agency: str | None = None


@dataclass(frozen=True)
class CallView:
    """One call of the ticket, as Asterisk reported it."""

    unique_id: str  # Asterisk's UNIQUEID of the caller's channel
    caller_number: str
    started_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    calltaker: str | None = None  # the call-taker who answered


@dataclass(frozen=True)
class AgencyStatus:
    """One agency's part in the incident: where its assignment stands and who moved it last."""

    agency_id: str  # the [[agencies]] id
    agency_name: str
    categories: tuple[str, ...]  # the categories it serves (its kind of service)
    status: str  # assigned | acknowledged | en-route | on-scene | cleared | declined
    assigned_at: datetime
    assigned_by: str  # the centre's user who assigned it ("system" on overflow)
    updated_at: datetime
    # Who made the last change: "" for the assigning user while `assigned`, the agency's desk after.
    updated_by: str = ""
    reason: str = ""  # the disposition text (cleared) or why it declined


@dataclass(frozen=True)
class Incident:
    """What the EIDO says about a ticket: its fields, calls, notes and agencies."""

    ticket_id: int
    status: str  # the ticket's status (tickets/lifecycle.py)
    closed: bool
    category: str | None
    category_name: str
    priority: int  # the queue priority: 0 (informasi) … 4 (silent caller)
    caller_number: str
    caller_name: str
    what: str
    where: str
    who: str
    kecamatan: str | None
    kelurahan: str | None
    address: str
    landmark: str
    transcript: str
    arrived_at: datetime
    updated_at: datetime
    calls: tuple[CallView, ...] = ()
    notes: tuple[Note, ...] = ()  # in the order they were written
    agencies: tuple[AgencyStatus, ...] = ()  # in the order they were assigned


def eido_document(
    incident: Incident,
    *,
    centre_agency_id: str,
    issuing_element: str,
    region: Region = Region(),
    with_caller_number: bool = True,
) -> dict[str, Any]:
    """The incident as an EIDO: a JSON-able dict whose every component carries $id,
    lastUpdateTimeStamp and updatedByAgencyReference, and whose every $ref names a component in it.

    `centre_agency_id` is the centre's Agency Identifier (a domain, e.g. 112.malangkota.go.id);
    each agency is identified under it (polresta.112.malangkota.go.id). `issuing_element` is the
    Element Identifier of this controller. Without `with_caller_number` (an agency that may not see
    it) no callback, no number and no caller's name is in the document. Raises ValueError on a
    naive datetime or an unknown agency status.
    """
    centre = _domain(centre_agency_id)
    builder = _Builder(incident, centre, _clean(issuing_element), region, with_caller_number)
    return builder.build()


def unit_status(status: str) -> tuple[str, list[str]]:
    """EIDO's primary and secondary unit status of one of our dispatch statuses."""
    try:
        primary, secondary = UNIT_STATUS[status]
    except KeyError:
        raise ValueError(f"unknown agency status {status!r}") from None
    return primary, list(secondary)


def civic_address_pidf(
    entity: str,
    region: Region,
    *,
    kecamatan: str | None,
    kelurahan: str | None,
    address: str,
    landmark: str,
    at: datetime,
) -> str:
    """A PIDF-LO (RFC 4119, civic address of RFC 5139) for a place a caller described.

    The street address is one typed line: RFC 5139 has no free-form line, and splitting it into
    road and house number would be a guess, so it goes in LOC (additional location information).
    The method is Manual: a call-taker entered it.
    """
    fields = [
        ("country", region.country),
        ("A1", region.a1),
        ("A3", region.a3),
        ("A4", kecamatan or ""),
        ("A5", kelurahan or ""),
        ("LOC", address),
        ("LMK", landmark),
    ]
    civic = "".join(f"<ca:{name}>{_xml(value)}</ca:{name}>" for name, value in fields if value)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<presence xmlns="urn:ietf:params:xml:ns:pidf"'
        ' xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"'
        ' xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"'
        f' entity="{_xml(entity)}">'
        '<tuple id="incident"><status><gp:geopriv><gp:location-info>'
        f'<ca:civicAddress xml:lang="id">{civic}</ca:civicAddress>'
        "</gp:location-info><gp:usage-rules/><gp:method>Manual</gp:method>"
        f"</gp:geopriv></status><timestamp>{_stamp(at)}</timestamp></tuple></presence>"
    )


# ---- the components --------------------------------------------------------------------------


class _Context:
    """What every component builder shares: the incident, the centre's identifiers, and the agents
    and notes gathered so far. Agents and notes are registries because any component may name one
    (a call its call-taker, a dispatch its reason), and each must appear in the document once."""

    def __init__(
        self,
        incident: Incident,
        centre: str,
        issuing_element: str,
        region: Region,
        with_caller_number: bool,
    ):
        self.incident = incident
        self.with_caller_number = with_caller_number
        self.centre = centre
        self.issuing_element = issuing_element
        self.region = region
        self.tag = f"t{incident.ticket_id}"
        self.agents: dict[str, dict[str, Any]] = {}
        self.notes: list[dict[str, Any]] = []

    def prologue(
        self, id_: str, at: datetime, agency: str, agent: str | None = None
    ) -> dict[str, Any]:
        prologue: dict[str, Any] = {
            "$id": id_,
            "lastUpdateTimeStamp": _stamp(at),
            "updatedByAgencyReference": _ref(agency),
        }
        if agent is not None:
            prologue["updatedByAgentReference"] = _ref(agent)
        return prologue

    def component_id(self, unique: str, agency: str) -> str:
        """STA-021's identifier of a component without an identifier of its own."""
        return f"urn:emergency:uid:eidodatacomponent:{unique}:{agency}"

    def caller_id(self) -> str:
        return self.component_id(f"{self.tag}caller", self.centre)

    def agency_id(self, agency_id: str) -> str:
        """An agency's Agency Identifier, under the centre's: polresta.112.malangkota.go.id."""
        return f"{_domain(agency_id)}.{self.centre}"

    def note(
        self, unique: str, comments: str, at: datetime, *, agency: str, author: str | None = None
    ) -> str:
        """Adds a notes component and gives its identifier, for the component that refers to it."""
        note: dict[str, Any] = {
            **self.prologue(self.component_id(unique, agency), at, agency, author),
            "notesActionComments": comments,
        }
        if author is not None:
            note["agentReference"] = _ref(author)
        self.notes.append(note)
        return str(note["$id"])

    def agent(self, username: str, agency: str, role: str, at: datetime | None) -> str:
        """The agent's identifier (username@agency), adding its component the first time."""
        agent_id = f"{_local_part(username)}@{agency}"
        if agent_id not in self.agents:
            self.agents[agent_id] = {
                **self.prologue(agent_id, at or self.incident.arrived_at, agency),
                "agentRoleRegistryText": [role],
                "agencyReference": _ref(agency),
            }
        return agent_id


class _Builder:
    """Assembles the document from the component builders below, in the order that fixes which
    component first adds a shared agent or note."""

    def __init__(
        self,
        incident: Incident,
        centre: str,
        issuing_element: str,
        region: Region,
        with_caller_number: bool,
    ):
        self.ctx = _Context(incident, centre, issuing_element, region, with_caller_number)

    def build(self) -> dict[str, Any]:
        ctx = self.ctx
        incident = ctx.incident
        location = _location(ctx)
        callbacks = _callbacks(ctx)
        caller_callback = callbacks.get(_tel_uri(incident.caller_number, ctx.centre) or "")
        calls = [_call(ctx, call, callbacks) for call in incident.calls]
        person = _caller(ctx, calls, caller_callback)
        agencies, dispatches, resources = _agencies(ctx)
        summary = _summary_notes(ctx)
        _written_notes(ctx, agencies)
        document: dict[str, Any] = {
            **ctx.prologue(
                f"urn:emergency:uid:incidentid:{incident.ticket_id}:{ctx.centre}",
                incident.updated_at,
                ctx.centre,
            ),
            "eidoVersion": EIDO_VERSION,
            "issuingElementIdentification": ctx.issuing_element,
            "incidentComponent": _incident(ctx, location, person, summary),
        }
        if calls:
            document["callComponent"] = calls
        if callbacks:
            document["callbackComponent"] = list(callbacks.values())
        if dispatches:
            document["dispatchComponent"] = dispatches
        if ctx.notes:
            document["notesComponent"] = ctx.notes
        if resources:
            document["emergencyResourceComponent"] = resources
        document["agencyComponent"] = agencies
        if ctx.agents:
            document["agentComponent"] = list(ctx.agents.values())
        if location is not None:
            document["locationComponent"] = [location]
        document["personComponent"] = [person]
        document["lastUpdateTimeStamp"] = max(
            (c["lastUpdateTimeStamp"] for c in _components(document)),
            key=datetime.fromisoformat,
        )
        document["@context"] = {
            "@vocab": "./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld"
        }
        return document


# -- incident and location


def _incident(
    ctx: _Context, location: dict[str, Any] | None, person: dict[str, Any], notes: list[str]
) -> dict[str, Any]:
    incident = ctx.incident
    category = incident.category or ""
    component: dict[str, Any] = {
        **ctx.prologue(
            ctx.component_id(f"{ctx.tag}incident", ctx.centre),
            incident.updated_at,
            ctx.centre,
        ),
        "incidentTypeCommonRegistryText": INCIDENT_TYPE.get(category, UNKNOWN_INCIDENT_TYPE),
        "incidentStatusInternalText": [_clean(incident.status)],
        "incidentStatusCommonRegistryText": _incident_status(incident),
        "internalIncidentId": str(incident.ticket_id),
        "incidentPriorityInternalText": str(incident.priority),
        # Common priority is 0-10 (10 highest); our queue priorities run 0-4.
        "incidentCommonPriorityNumber": max(0, min(10, incident.priority * 2)),
        "personReference": [_ref(person["$id"])],
    }
    if notes:
        component["notesReference"] = [_ref(n) for n in notes]
    if category:
        component["incidentTypeInternalCode"] = _clean(category)
        component["incidentTypeInternalText"] = _clean(incident.category_name or category)
    if location is not None:
        component["locationReference"] = [_ref(location["$id"])]
    return component


def _incident_status(incident: Incident) -> list[str]:
    if incident.closed:
        return ["Closed"]
    statuses = {a.status for a in incident.agencies}
    for ours, common in _RESOURCES_STATUS:
        if ours in statuses:
            return ["Active", common]
    return ["Active"]


def _location(ctx: _Context) -> dict[str, Any] | None:
    incident = ctx.incident
    place = (incident.kecamatan, incident.kelurahan, incident.address, incident.landmark)
    if not any(place) and not incident.where.strip():
        return None
    component: dict[str, Any] = {
        **ctx.prologue(
            ctx.component_id(f"{ctx.tag}location", ctx.centre),
            incident.updated_at,
            ctx.centre,
        ),
        "locationTypeDescriptionRegistryText": "CurrentIncident",
        "locationByValue": civic_address_pidf(
            f"pres:ticket-{incident.ticket_id}@{ctx.centre}",
            ctx.region,
            kecamatan=_clean(incident.kecamatan or ""),
            kelurahan=_clean(incident.kelurahan or ""),
            address=_clean(incident.address),
            landmark=_clean(incident.landmark),
            at=incident.updated_at,
        ),
    }
    if incident.where.strip():
        component["locationDescriptionText"] = _clean(incident.where)
    return component


# -- calls and the caller


def _callbacks(ctx: _Context) -> dict[str, dict[str, Any]]:
    """One callback component per number that can be written as a tel: URI, by that URI."""
    numbers = [ctx.incident.caller_number] + [c.caller_number for c in ctx.incident.calls]
    callbacks: dict[str, dict[str, Any]] = {}
    if not ctx.with_caller_number:
        return callbacks
    for number in numbers:
        uri = _tel_uri(number, ctx.centre)
        if uri is None or uri in callbacks:
            continue
        callbacks[uri] = {
            **ctx.prologue(
                ctx.component_id(f"{ctx.tag}callback{len(callbacks) + 1}", ctx.centre),
                ctx.incident.arrived_at,
                ctx.centre,
            ),
            "callBackInformationUri": [uri],
        }
    return callbacks


def _call(ctx: _Context, call: CallView, callbacks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    stamps = [s for s in (call.started_at, call.answered_at, call.ended_at) if s is not None]
    if call.ended_at is not None:
        state = "callEnd"
    elif call.answered_at is not None:
        state = "callAnswered"
    else:
        state = "callBegin"
    agent = None
    if call.calltaker:
        agent = ctx.agent(call.calltaker, ctx.centre, "Call Taking", call.answered_at)
    component: dict[str, Any] = {
        **ctx.prologue(call_identifier(call.unique_id, ctx.centre), max(stamps), ctx.centre),
        "standardPrimaryCallType": "emergency",
        "direction": "incoming",
        "callStartTimestamp": _stamp(call.started_at),
        "callStateRegistryText": state,
    }
    if call.answered_at is not None:
        component["answerDate"] = _stamp(call.answered_at)
    if agent is not None:
        component["agentReference"] = [_ref(agent)]
    callback = callbacks.get(_tel_uri(call.caller_number, ctx.centre) or "")
    if callback is not None:
        component["callBackReference"] = _ref(callback["$id"])
    component["personReference"] = [_ref(ctx.caller_id())]
    return component


def _caller(
    ctx: _Context, calls: list[dict[str, Any]], callback: dict[str, Any] | None
) -> dict[str, Any]:
    person: dict[str, Any] = {
        **ctx.prologue(ctx.caller_id(), ctx.incident.arrived_at, ctx.centre),
        "personIncidentRoleRegistryText": ["Caller"],
    }
    if calls:
        person["callIdentifier"] = [c["$id"] for c in calls]
    if callback is not None:
        person["callBackReference"] = _ref(callback["$id"])
    # The caller's name identifies them as much as their number does.
    if ctx.with_caller_number and ctx.incident.caller_name.strip():
        name = {"personFullName": [{"value": _clean(ctx.incident.caller_name)}]}
        person["ncPersonComponent"] = {"name": [name]}
    return person


# -- agencies, their dispatches and resource statuses


def _agencies(
    ctx: _Context,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The agency components (the centre first), and one dispatch and one emergency resource per
    assignment."""
    incident = ctx.incident
    agencies = [
        {
            **ctx.prologue(ctx.centre, incident.arrived_at, ctx.centre),
            "agencyRoleDescriptionRegistryText": ["CallReceiving", "Dispatching"],
            "agencyType": ["psap"],
            "incidentOwningAgencyIndicator": True,
        }
    ]
    dispatches: list[dict[str, Any]] = []
    resources: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for n, assignment in enumerate(incident.agencies, start=1):
        agency = ctx.agency_id(assignment.agency_id)
        seen[agency] = seen.get(agency, 0) + 1
        if seen[agency] == 1:
            role = "Informational" if assignment.status == "declined" else "Dispatched"
            agencies.append(
                {
                    **ctx.prologue(agency, assignment.updated_at, ctx.centre),
                    "agencyRoleDescriptionRegistryText": [role],
                    "agencyType": [_agency_type(assignment.categories)],
                }
            )
        resource, dispatch = _assignment(ctx, n, assignment, agency, seen[agency])
        resources.append(resource)
        dispatches.append(dispatch)
    return agencies, dispatches, resources


def _assignment(
    ctx: _Context, n: int, assignment: AgencyStatus, agency: str, nth_for_agency: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The emergency resource (the agency's unit status) and the dispatch (the centre's act of
    assigning it) of the ticket's `n`th assignment, its `nth_for_agency` to that agency."""
    primary, secondary = unit_status(assignment.status)
    # Every status after `assigned` is the agency's own doing (its page, phone or API).
    by_agency = assignment.status != "assigned"
    updater_agency = agency if by_agency else ctx.centre
    updater = assignment.updated_by or ("desk" if by_agency else assignment.assigned_by)
    updater_agent = ctx.agent(
        updater,
        updater_agency,
        "Dispatching" if by_agency else "Call Taking",
        assignment.updated_at,
    )
    desk = ctx.agent("desk", agency, "Dispatching", assignment.assigned_at)
    resource_id = f"ticket{ctx.incident.ticket_id}-{nth_for_agency}@{agency}"
    resource: dict[str, Any] = {
        **ctx.prologue(resource_id, assignment.updated_at, updater_agency, updater_agent),
        "emergencyResourceTypeCommonRegistryText": _resource_type(assignment.categories),
        "emergencyResourceName": _clean(assignment.agency_name),
        "resourceAttributeRegistryText": [],
        "primaryUnitStatusRegistryText": primary,
        "secondaryUnitStatusRegistryText": secondary,
        "unitStatusInternal": [assignment.status],
        "agentReference": [_ref(desk)],
    }
    dispatch: dict[str, Any] = {
        **ctx.prologue(
            ctx.component_id(f"{ctx.tag}dispatch{n}", ctx.centre),
            assignment.assigned_at,
            ctx.centre,
        ),
        "agencyReference": _ref(agency),
        "agentReference": _ref(
            ctx.agent(assignment.assigned_by, ctx.centre, "Call Taking", assignment.assigned_at)
        ),
        "emergencyResourceReference": [_ref(resource_id)],
    }
    if assignment.reason.strip():
        label = "Alasan menolak" if assignment.status == "declined" else "Hasil"
        reason = ctx.note(
            f"{ctx.tag}agency{n}reason",
            f"<p><b>{label}:</b> {_html(assignment.reason)}</p>",
            assignment.updated_at,
            agency=updater_agency,
            author=updater_agent,
        )
        resource["notesReference"] = [_ref(reason)]
        dispatch["notesReference"] = [_ref(reason)]
    return resource, dispatch


# -- notes


def _summary_notes(ctx: _Context) -> list[str]:
    """What/where/who, and the transcript: the notes the incident itself refers to."""
    incident = ctx.incident
    ids = []
    labelled = (("Apa", incident.what), ("Di mana", incident.where), ("Siapa", incident.who))
    parts = [f"<p><b>{label}:</b> {_html(text)}</p>" for label, text in labelled if text.strip()]
    if parts:
        ids.append(
            ctx.note(f"{ctx.tag}summary", "".join(parts), incident.updated_at, agency=ctx.centre)
        )
    if incident.transcript.strip():
        text = f"<p><b>Transkrip:</b> {_html(incident.transcript)}</p>"
        ids.append(ctx.note(f"{ctx.tag}transcript", text, incident.updated_at, agency=ctx.centre))
    return ids


def _written_notes(ctx: _Context, agencies: list[dict[str, Any]]) -> None:
    """The ticket's notes as notes components; `agencies` gains any writer it lacks."""
    # A component keeps its $id in every EIDO of the incident (STA-021 section 2): a note is
    # numbered by its place among the ticket's notes, which only grow.
    for n, note in enumerate(ctx.incident.notes, start=1):
        writer = ctx.agency_id(note.agency) if note.agency else ctx.centre
        if writer not in {a["$id"] for a in agencies}:
            # Only an agency with an assignment writes notes; should one not have it any
            # more, its note still names an agency of the document.
            agencies.append(
                {
                    **ctx.prologue(writer, note.at, ctx.centre),
                    "agencyRoleDescriptionRegistryText": ["Informational"],
                    "agencyType": [UNKNOWN_AGENCY_TYPE],
                }
            )
        role = "Call Taking" if note.agency is None else "Dispatching"
        ctx.note(
            f"{ctx.tag}note{n}",
            _html(note.text),
            note.at,
            agency=writer,
            author=ctx.agent(note.author, writer, role, note.at),
        )


# ---- identifiers and text ---------------------------------------------------------------------


def call_identifier(unique_id: str, centre_agency_id: str) -> str:
    """STA-010's Call Identifier of an Asterisk call: urn:emergency:uid:callid:<unique>:<element>.

    The unique string must be letters and digits, and Asterisk's unique id has a dot (and may
    have a system name): every other character is written as x and its hex code point (so "x"
    itself too), which keeps distinct unique ids distinct.
    """
    unique = _ESCAPED_IN_CALL_ID.sub(lambda m: f"x{ord(m.group()):x}x", unique_id)
    return f"urn:emergency:uid:callid:{unique}:{_domain(centre_agency_id)}"


def _clean(text: str) -> str:
    return _NOT_TEXT.sub("\ufffd", text)


def _html(text: str) -> str:
    """Notes are HTML fragments in EIDO: the text escaped, its line breaks kept."""
    return html.escape(_clean(text).strip()).replace("\r\n", "\n").replace("\n", "<br>")


def _xml(text: str) -> str:
    return html.escape(_clean(text), quote=True)


def _ref(id_: str) -> dict[str, str]:
    return {"$ref": id_}


def _stamp(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("naive datetime in an EIDO: timestamps must be aware")
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


def _domain(name: str) -> str:
    """A name as a DNS label sequence (agency identifiers are domains): lower case, letters,
    digits and hyphens between dots."""
    labels = [_NOT_DOMAIN.sub("-", label.lower()).strip("-") for label in name.split(".")]
    labels = [label for label in labels if label]
    if not labels:
        raise ValueError(f"not usable as an agency identifier: {name!r}")
    return ".".join(labels)


def _local_part(username: str) -> str:
    """A username as the part before @ of an agent identifier."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", username).strip("-.") or "unknown"


def _tel_uri(number: str, centre: str) -> str | None:
    """A caller's number as a tel: URI (RFC 3966), or None for anything that is not a number
    (withheld, anonymous, garbage). Indonesian national numbers (0…) become +62…; short numbers
    are local to the centre."""
    digits = re.sub(r"[\s().-]", "", number)
    if re.fullmatch(r"\+[1-9][0-9]{5,15}", digits):
        return f"tel:{digits}"
    if re.fullmatch(r"0[1-9][0-9]{5,14}", digits):
        return f"tel:+62{digits[1:]}"
    if re.fullmatch(r"[0-9]{2,15}", digits):
        return f"tel:{digits};phone-context={centre}"
    return None


def _agency_type(categories: Iterable[str]) -> str:
    return next((AGENCY_TYPE[c] for c in categories if c in AGENCY_TYPE), UNKNOWN_AGENCY_TYPE)


def _resource_type(categories: Iterable[str]) -> str:
    return next((RESOURCE_TYPE[c] for c in categories if c in RESOURCE_TYPE), UNKNOWN_RESOURCE_TYPE)


def _components(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """Every data component of the document (the header's lists and the incident)."""
    for key, value in document.items():
        if key == "incidentComponent":
            yield value
        elif key.endswith("Component") and isinstance(value, list):
            yield from value
