"""The incident as a NENA EIDO document (routing/eido.py), checked field by field against the shape
of NENA911/EIDO-JSON's Schema/openapi.yaml, and with hostile text in every field."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET  # parses only the document this module just wrote
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from callcenter.routing.eido import (
    AgencyStatus,
    CallView,
    Incident,
    Note,
    call_identifier,
    eido_document,
    unit_status,
)

CENTRE = "112.malangkota.go.id"
ELEMENT = "controller.112.malangkota.go.id"
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)

# PyYAML is not in the venv, so the shape is written out here. Each component: its required
# members, then every property the schema defines with its JSON type ("ref" is a ReferenceType,
# {"$ref": id}). From NENA911/EIDO-JSON commit 7f62055, Schema/openapi.yaml: PrologueType
# (lines 45-88) for every component, then AgencyType 133-193, AgentType 194-245, NotesType 297-330,
# LocationInformationType 358-441, PersonInformationType 442-513, IncidentInformationType 654-761,
# CallInformationType 786-916, CallbackType 917-945, EmergencyResourceType 946-1062,
# DispatchInformationType 1063-1096, EmergencyIncidentDataObjectType 1391-1537.
PROLOGUE_REQUIRED = ("$id", "lastUpdateTimeStamp", "updatedByAgencyReference")
PROLOGUE = {
    "$id": "str",
    "lastUpdateTimeStamp": "str",
    "updatedByAgencyReference": "ref",
    "updatedByAgentReference": "ref",
    "AlternateValueReferences": "list[ref]",
    "externalInformationSourceReferences": "list[ref]",
    "mediaReferences": "list[ref]",
}
SHAPE: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "incidentComponent": (
        ("incidentTypeCommonRegistryText",),
        {
            "incidentTypeInternalCode": "str",
            "incidentTypeInternalText": "str",
            "incidentTypeCommonRegistryText": "str",
            "incidentStatusInternalText": "list[str]",
            "incidentStatusCommonRegistryText": "list[str]",
            "internalIncidentId": "str",
            "agentReference": "list[ref]",
            "locationReference": "list[ref]",
            "personReference": "list[ref]",
            "organizationReference": "list[ref]",
            "vehicleReference": "list[ref]",
            "documentIdentification": "list[str]",
            "reportNumberType": "str",
            "incidentPriorityInternalText": "str",
            "incidentCommonPriorityNumber": "int",
            "beatOrDispatchGroupText": "str",
            "dispositionComponent": "list[obj]",
            "notesReference": "list[ref]",
        },
    ),
    "callComponent": (
        ("callStateRegistryText", "standardPrimaryCallType", "direction", "callStartTimestamp"),
        {
            "relatedCallIdentifier": "list[str]",
            "queueIdentifier": "str",
            "standardPrimaryCallType": "str",
            "standardSecondaryCallType": "str",
            "localCallType": "str",
            "direction": "str",
            "priorityIdentifier": "str",
            "additionalDataReference": "list[ref]",
            "callStartTimestamp": "str",
            "answerDate": "str",
            "callStateRegistryText": "str",
            "agentReference": "list[ref]",
            "callBackReference": "ref",
            "verstat": "str",
            "sipIdentity": "str",
            "locationReference": "list[ref]",
            "notesReference": "list[ref]",
            "personReference": "list[ref]",
            "organizationReference": "list[ref]",
            "agencyReference": "list[ref]",
        },
    ),
    "callbackComponent": (
        (),
        {"callBackInformationUri": "list[str]", "deviceContactHeader": "str", "updatedCbn": "obj"},
    ),
    "agencyComponent": (
        ("agencyRoleDescriptionRegistryText", "agencyType"),
        {
            "agencyJcard": "str",
            "agencyRoleDescriptionRegistryText": "list[str]",
            "agencyType": "list[str]",
            "notesReference": "list[ref]",
            "incidentOwningAgencyIndicator": "bool",
            "actingOnBehalfOfAgencyReference": "list[ref]",
            "agencyCallLegState": "list[obj]",
        },
    ),
    "agentComponent": (
        ("agentRoleRegistryText", "agencyReference"),
        {
            "agentJcard": "str",
            "agentWorkstationPositionIdentification": "str",
            "agentRoleRegistryText": "list[str]",
            "agencyReference": "ref",
            "notesReference": "list[ref]",
            "agentCallLegState": "list[obj]",
        },
    ),
    "locationComponent": (
        ("locationTypeDescriptionRegistryText",),
        {
            "locationTypeDescriptionRegistryText": "str",
            "locationByValue": "str",
            "locationByReferenceUrl": "str",
            "locationDereferencedFromReference": "ref",
            "locationDescriptionText": "str",
            "crossStreetByValue": "list[str]",
            "crossStreetByReferenceUrl": "list[str]",
            "intersectingStreetByValue": "list[str]",
            "intersectingStreetByReferenceUrl": "list[str]",
            "cellTowerSectorId": "str",
            "additionalDataReference": "list[ref]",
            "localIdentifier": "list[str]",
            "notesReference": "list[ref]",
        },
    ),
    "personComponent": (
        ("personIncidentRoleRegistryText",),
        {
            "ncPersonComponent": "obj",
            "personIncidentRoleRegistryText": "list[str]",
            "callIdentifier": "list[str]",
            "locationReference": "list[ref]",
            "destinationReference": "ref",
            "eta": "str",
            "notesReference": "list[ref]",
            "additionalDataReference": "list[ref]",
            "callBackReference": "ref",
            "personCallLegState": "list[obj]",
            "itemReference": "list[ref]",
        },
    ),
    "notesComponent": (
        ("notesActionComments",),
        {"notesActionComments": "str", "agentReference": "ref", "cautionReference": "list[ref]"},
    ),
    "dispatchComponent": (
        (),
        {
            "agencyReference": "ref",
            "agentReference": "ref",
            "emergencyResourceReference": "list[ref]",
            "notesReference": "list[ref]",
        },
    ),
    "emergencyResourceComponent": (
        (
            "agentReference",
            "emergencyResourceTypeCommonRegistryText",
            "primaryUnitStatusRegistryText",
            "resourceAttributeRegistryText",
            "secondaryUnitStatusRegistryText",
        ),
        {
            "emergencyResourceTypeCommonRegistryText": "str",
            "emergencyResourceTypeInternalText": "str",
            "resourceAttributeRegistryText": "list[str]",
            "resourceAttributeInternalText": "list[str]",
            "emergencyResourceName": "str",
            "primaryUnitStatusRegistryText": "str",
            "secondaryUnitStatusRegistryText": "list[str]",
            "notesReference": "list[ref]",
            "unitStatusInternal": "list[str]",
            "agentReference": "list[ref]",
            "unitLocationReference": "ref",
            "unitDestinationReference": "ref",
            "eta": "str",
            "personReference": "list[ref]",
            "vehicleReference": "list[ref]",
            "itemReference": "list[ref]",
            "activeOnIncidentId": "str",
            "stackedOnIncidentId": "list[str]",
        },
    ),
}
HEADER_REQUIRED = ("eidoVersion", "issuingElementIdentification", "agencyComponent")
HEADER = {
    "eidoVersion": "str",
    "eidoExtensionId": "list[str]",
    "issuingElementIdentification": "str",
}
HEADER |= {name: "obj" if name == "incidentComponent" else "list[obj]" for name in SHAPE}
HEADER |= {
    f"{name}Component": "list[obj]"
    for name in ("merge", "link", "alarmsSensors", "additionalData", "vehicle", "caution", "media")
}
HEADER |= {
    "sharedCommunicationResourceComponent": "list[obj]",
    "externalInformationSourceComponent": "list[obj]",
    "@context": "obj",
}

# Registry values (STA-021 chapter 3): primary unit status (table 3-9), the secondary unit
# statuses we use (table 3-10), incident status (table 3-3), agency roles (table 3-1), location
# types (table 3-8), and the direction enum of CallInformationType.
PRIMARY_UNIT_STATUS = {"Available", "ConditionallyAvailable", "NotAvailable"}
SECONDARY_UNIT_STATUS = {
    "AcknowledgedTransmission",
    "Arrived",
    "Assigned",
    "AssignmentCancelled",
    "Cleared",
    "Dispatched",
    "EnRoute",
    "OnScene",
}
INCIDENT_STATUS = {
    "Active",
    "Cancelled",
    "Closed",
    "FireUnderControl",
    "NewLocation",
    "ReOpened",
    "ResourcesAssigned",
    "ResourcesEnroute",
    "ResourcesOnscene",
    "StructureCleared",
}
AGENCY_ROLES = {
    "Assisting",
    "CallReceiving",
    "Dispatched",
    "Dispatching",
    "Informational",
    "TransferredTo",
}
LOCATION_TYPES = {
    "RoutingLocation",
    "Caller",
    "CurrentIncident",
    "InitialIncident",
    "Investigation",
    "Other",
    "Staging",
    "TowerLocation",
    "UnitLocation",
}

CIVIC = "{urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr}"
# A civic address field of RFC 5139 (and 4776) → the ticket field it carries.
CIVIC_FIELDS = {"A4": "kecamatan", "A5": "kelurahan", "LOC": "address", "LMK": "landmark"}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def agency(status: str, minutes: float, **kwargs: Any) -> AgencyStatus:
    values: dict[str, Any] = {
        "agency_id": "polresta",
        "agency_name": "Polresta Malang Kota",
        "categories": ("police",),
        "status": status,
        "assigned_at": at(3),
        "assigned_by": "ani",
        "updated_at": at(minutes),
    }
    return AgencyStatus(**(values | kwargs))


def police_ticket(**kwargs: Any) -> Incident:
    """A motorbike theft reported in Kauman, dispatched to the police and the ambulance."""
    values: dict[str, Any] = {
        "ticket_id": 42,
        "status": "dispatched",
        "closed": False,
        "category": "police",
        "category_name": "Kepolisian (kejahatan, kecelakaan)",
        "priority": 2,
        "caller_number": "081234567890",
        "caller_name": "Budi Santoso",
        "what": "Pencurian sepeda motor, pelaku lari",
        "where": "Depan toko emas, sebelah utara",
        "who": "Dua orang, satu terluka",
        "kecamatan": "Klojen",
        "kelurahan": "Kauman",
        "address": "Jl. Merdeka Barat 7",
        "landmark": "Alun-alun Merdeka",
        "transcript": "tolong motor saya dicuri",
        "arrived_at": T0,
        "updated_at": at(5),
        "calls": (CallView("1740816000.42", "081234567890", T0, at(0.5), at(4), "ani"),),
        "notes": (Note("Pelaku pakai jaket hitam\nke arah Kayutangan", "ani", at(2)),),
        "agencies": (
            agency("en-route", 6, updated_by="bripka.joko"),
            AgencyStatus(
                "pmi",
                "PMI Kota Malang",
                ("ambulance",),
                "declined",
                at(3),
                "ani",
                at(4),
                "operator.pmi",
                "Korban sudah dibawa warga ke RSSA",
            ),
        ),
    }
    return Incident(**(values | kwargs))


def build(incident: Incident, **kwargs: Any) -> dict[str, Any]:
    return eido_document(incident, centre_agency_id=CENTRE, issuing_element=ELEMENT, **kwargs)


def components(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every component of the document by its $id."""
    found: dict[str, dict[str, Any]] = {}
    for name in SHAPE:
        value = document.get(name)
        for component in [value] if isinstance(value, dict) else value or []:
            assert component["$id"] not in found, f"$id used twice: {component['$id']}"
            found[component["$id"]] = component
    return found


def of_type(value: Any, kind: str) -> bool:
    match kind:
        case "str":
            return isinstance(value, str)
        case "int":
            return isinstance(value, int) and not isinstance(value, bool)
        case "bool":
            return isinstance(value, bool)
        case "obj":
            return isinstance(value, dict)
        case "ref":
            return (
                isinstance(value, dict)
                and set(value) == {"$ref"}
                and isinstance(value["$ref"], str)
            )
        case _:
            item = kind.removeprefix("list[").removesuffix("]")
            return isinstance(value, list) and all(of_type(v, item) for v in value)


def check_shape(
    where: str, member: dict[str, Any], required: tuple[str, ...], props: dict[str, str]
):
    for name in required:
        assert name in member, f"{where}: required {name} missing"
    for name, value in member.items():
        assert name in props, f"{where}: {name} is not an EIDO field"
        assert of_type(value, props[name]), f"{where}: {name} is not {props[name]}: {value!r}"
    assert datetime.fromisoformat(member["lastUpdateTimeStamp"]).tzinfo is not None


def check_document(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The document has EIDO's shape: every member where the schema puts it, with its type, every
    required one present, every $ref naming a component of the document."""
    check_shape("header", document, PROLOGUE_REQUIRED + HEADER_REQUIRED, PROLOGUE | HEADER)
    by_id = components(document)
    for name, (required, props) in SHAPE.items():
        value = document.get(name)
        for component in [value] if isinstance(value, dict) else value or []:
            check_shape(
                f"{name} {component['$id']}",
                component,
                PROLOGUE_REQUIRED + required,
                PROLOGUE | props,
            )

    def refs(value: Any):
        if isinstance(value, dict):
            if set(value) == {"$ref"}:
                yield value["$ref"]
            for v in value.values():
                yield from refs(v)
        elif isinstance(value, list):
            for v in value:
                yield from refs(v)

    for ref in refs(document):
        assert ref in by_id, f"$ref to nothing: {ref}"
    return by_id


def civic_address(location: dict[str, Any]) -> dict[str, str]:
    root = ET.fromstring(location["locationByValue"].encode("utf-8"))  # noqa: S314 - our own XML
    address = root.find(f".//{CIVIC}civicAddress")
    assert address is not None
    return {child.tag.removeprefix(CIVIC): child.text or "" for child in address}


def test_the_document_has_eidos_shape_field_by_field():
    document = build(police_ticket())
    by_id = check_document(document)

    assert document["$id"] == f"urn:emergency:uid:incidentid:42:{CENTRE}"
    assert document["eidoVersion"] == "1.0"
    assert document["issuingElementIdentification"] == ELEMENT
    assert document["updatedByAgencyReference"] == {"$ref": CENTRE}
    # The header says when anything in it last changed: here, the police going en route.
    assert document["lastUpdateTimeStamp"] == "2025-03-01T08:06:00.000+00:00"

    incident = document["incidentComponent"]
    assert incident["internalIncidentId"] == "42"
    assert incident["incidentTypeInternalCode"] == "police"
    assert incident["incidentTypeCommonRegistryText"] == "SUSP"
    assert incident["incidentStatusInternalText"] == ["dispatched"]
    assert incident["incidentStatusCommonRegistryText"] == ["Active", "ResourcesEnroute"]
    assert incident["incidentPriorityInternalText"] == "2"
    assert 0 <= incident["incidentCommonPriorityNumber"] <= 10

    (call,) = document["callComponent"]
    assert call["$id"] == call_identifier("1740816000.42", CENTRE)
    assert call["standardPrimaryCallType"] == "emergency"
    assert call["direction"] == "incoming"
    assert call["callStartTimestamp"] == "2025-03-01T08:00:00.000+00:00"
    assert call["answerDate"] == "2025-03-01T08:00:30.000+00:00"
    assert call["callStateRegistryText"] == "callEnd"
    calltaker = by_id[call["agentReference"][0]["$ref"]]
    assert calltaker["agentRoleRegistryText"] == ["Call Taking"]
    assert calltaker["agencyReference"] == {"$ref": CENTRE}
    assert by_id[call["callBackReference"]["$ref"]]["callBackInformationUri"] == [
        "tel:+6281234567890"
    ]

    (person,) = document["personComponent"]
    assert person["personIncidentRoleRegistryText"] == ["Caller"]
    assert person["callIdentifier"] == [call["$id"]]
    assert person["callBackReference"] == call["callBackReference"]
    assert person["ncPersonComponent"]["name"][0]["personFullName"][0]["value"] == "Budi Santoso"

    (location,) = document["locationComponent"]
    assert incident["locationReference"] == [{"$ref": location["$id"]}]
    assert location["locationTypeDescriptionRegistryText"] in LOCATION_TYPES
    assert location["locationDescriptionText"] == "Depan toko emas, sebelah utara"
    assert civic_address(location) == {
        "country": "ID",
        "A1": "Jawa Timur",
        "A3": "Kota Malang",
        "A4": "Klojen",
        "A5": "Kauman",
        "LOC": "Jl. Merdeka Barat 7",
        "LMK": "Alun-alun Merdeka",
    }

    notes = [by_id[ref["$ref"]]["notesActionComments"] for ref in incident["notesReference"]]
    assert notes == [
        "<p><b>Apa:</b> Pencurian sepeda motor, pelaku lari</p>"
        "<p><b>Di mana:</b> Depan toko emas, sebelah utara</p>"
        "<p><b>Siapa:</b> Dua orang, satu terluka</p>",
        "<p><b>Transkrip:</b> tolong motor saya dicuri</p>",
    ]
    written = [n for n in document["notesComponent"] if "agentReference" in n]
    centre_note = next(n for n in written if n["updatedByAgencyReference"] == {"$ref": CENTRE})
    assert centre_note["notesActionComments"] == "Pelaku pakai jaket hitam<br>ke arah Kayutangan"
    assert centre_note["agentReference"] == {"$ref": f"ani@{CENTRE}"}
    assert centre_note["lastUpdateTimeStamp"] == "2025-03-01T08:02:00.000+00:00"

    centre, police, pmi = document["agencyComponent"]
    assert centre["$id"] == CENTRE
    assert centre["agencyRoleDescriptionRegistryText"] == ["CallReceiving", "Dispatching"]
    assert centre["incidentOwningAgencyIndicator"] is True
    assert police["$id"] == f"polresta.{CENTRE}"
    assert police["agencyType"] == ["police"]
    assert pmi["agencyType"] == ["ems"]
    for a in document["agencyComponent"]:
        assert set(a["agencyRoleDescriptionRegistryText"]) <= AGENCY_ROLES

    police_unit, pmi_unit = document["emergencyResourceComponent"]
    assert police_unit["primaryUnitStatusRegistryText"] == "NotAvailable"
    assert police_unit["secondaryUnitStatusRegistryText"] == ["EnRoute"]
    assert police_unit["unitStatusInternal"] == ["en-route"]
    assert police_unit["emergencyResourceTypeCommonRegistryText"] == "PatrolUnit"
    assert police_unit["updatedByAgencyReference"] == {"$ref": police["$id"]}
    assert police_unit["updatedByAgentReference"] == {"$ref": f"bripka.joko@{police['$id']}"}
    assert by_id[police_unit["agentReference"][0]["$ref"]]["agencyReference"] == {
        "$ref": police["$id"]
    }
    assert pmi_unit["primaryUnitStatusRegistryText"] == "Available"
    assert pmi_unit["secondaryUnitStatusRegistryText"] == ["AssignmentCancelled"]
    (reason,) = pmi_unit["notesReference"]
    assert by_id[reason["$ref"]]["notesActionComments"] == (
        "<p><b>Alasan menolak:</b> Korban sudah dibawa warga ke RSSA</p>"
    )

    police_dispatch, pmi_dispatch = document["dispatchComponent"]
    assert police_dispatch["agencyReference"] == {"$ref": police["$id"]}
    assert police_dispatch["emergencyResourceReference"] == [{"$ref": police_unit["$id"]}]
    assert police_dispatch["agentReference"] == {"$ref": f"ani@{CENTRE}"}
    assert pmi_dispatch["notesReference"] == pmi_unit["notesReference"]


@pytest.mark.parametrize(
    ("status", "primary", "secondary", "incident_status"),
    [
        ("assigned", "NotAvailable", ["Assigned"], ["Active", "ResourcesAssigned"]),
        (
            "acknowledged",
            "NotAvailable",
            ["AcknowledgedTransmission"],
            ["Active", "ResourcesAssigned"],
        ),
        ("en-route", "NotAvailable", ["EnRoute"], ["Active", "ResourcesEnroute"]),
        ("on-scene", "NotAvailable", ["OnScene"], ["Active", "ResourcesOnscene"]),
        ("cleared", "Available", ["Cleared"], ["Active"]),
        ("declined", "Available", ["AssignmentCancelled"], ["Active"]),
    ],
)
def test_each_agency_status_is_an_eido_unit_status(status, primary, secondary, incident_status):
    document = build(police_ticket(agencies=(agency(status, 7, reason="Selesai"),)))
    check_document(document)
    (unit,) = document["emergencyResourceComponent"]
    assert unit["primaryUnitStatusRegistryText"] == primary in PRIMARY_UNIT_STATUS
    assert unit["secondaryUnitStatusRegistryText"] == secondary
    assert set(secondary) <= SECONDARY_UNIT_STATUS
    assert unit["unitStatusInternal"] == [status]
    assert document["incidentComponent"]["incidentStatusCommonRegistryText"] == incident_status
    assert set(incident_status) <= INCIDENT_STATUS
    # Assigning is the centre's doing; every later change is the agency's own.
    changed_by = CENTRE if status == "assigned" else f"polresta.{CENTRE}"
    assert unit["updatedByAgencyReference"] == {"$ref": changed_by}


def test_a_closed_ticket_is_a_closed_incident_and_an_unknown_status_is_refused():
    document = build(police_ticket(closed=True, status="resolved"))
    assert document["incidentComponent"]["incidentStatusCommonRegistryText"] == ["Closed"]
    with pytest.raises(ValueError, match="unknown agency status"):
        build(police_ticket(agencies=(agency("teleported", 7),)))
    assert unit_status("cleared") == ("Available", ["Cleared"])


def test_a_bare_ticket_still_has_the_required_components():
    """A call that just arrived: no category, no place, no notes, no agency, a withheld number."""
    document = build(
        police_ticket(
            status="new",
            category=None,
            category_name="",
            caller_number="anonymous",
            caller_name="",
            what="",
            where="",
            who="",
            kecamatan=None,
            kelurahan=None,
            address="",
            landmark="",
            transcript="",
            notes=(),
            agencies=(),
            calls=(CallView("1740816000.43", "anonymous", T0),),
        )
    )
    check_document(document)
    assert document["incidentComponent"]["incidentTypeCommonRegistryText"] == "TROUBLE"
    assert document["callComponent"][0]["callStateRegistryText"] == "callBegin"
    for absent in ("locationComponent", "callbackComponent", "emergencyResourceComponent"):
        assert absent not in document
    assert [a["$id"] for a in document["agencyComponent"]] == [CENTRE]


def test_an_agency_without_the_callers_number_gets_no_number():
    document = build(police_ticket(), with_caller_number=False)
    check_document(document)
    assert "081234567890" not in json.dumps(document)
    assert "1234567890" not in json.dumps(document)
    # Nor the caller's name: it identifies them as the number does. The person stays, a caller.
    assert "Budi" not in json.dumps(document) and "Santoso" not in json.dumps(document)
    [person] = document["personComponent"]
    assert "ncPersonComponent" not in person
    assert person["personIncidentRoleRegistryText"] == ["Caller"]
    # The centre (and an agency allowed the number) reads both.
    assert "Budi Santoso" in json.dumps(build(police_ticket()))


def test_an_agencys_note_is_the_agencys_not_the_centres():
    """A note an agency wrote on its page is credited to that agency and an agent of it; the
    centre's notes stay the centre's."""
    notes = (
        Note("Korban dibawa ke RSSA", "ani", at(2)),
        Note("Unit Sabhara 3 menuju lokasi", "bripka.joko", at(4), agency="polresta"),
        Note("Ambulans tidak diperlukan", "operator.pmi", at(5), agency="pmi"),
    )
    document = build(police_ticket(notes=notes))
    by_id = check_document(document)
    written = {
        n["notesActionComments"]: n for n in document["notesComponent"] if "agentReference" in n
    }
    centre = written["Korban dibawa ke RSSA"]
    assert centre["updatedByAgencyReference"] == {"$ref": CENTRE}
    assert centre["agentReference"] == {"$ref": f"ani@{CENTRE}"}
    for text, agency, agent in (
        ("Unit Sabhara 3 menuju lokasi", f"polresta.{CENTRE}", f"bripka.joko@polresta.{CENTRE}"),
        ("Ambulans tidak diperlukan", f"pmi.{CENTRE}", f"operator.pmi@pmi.{CENTRE}"),
    ):
        note = written[text]
        assert note["updatedByAgencyReference"] == {"$ref": agency}
        assert note["updatedByAgentReference"] == {"$ref": agent}
        assert note["agentReference"] == {"$ref": agent}
        assert note["$id"].endswith(f":{agency}")
        assert by_id[agent]["agencyReference"] == {"$ref": agency}
        assert by_id[agent]["agentRoleRegistryText"] == ["Dispatching"]
    assert by_id[f"ani@{CENTRE}"]["agentRoleRegistryText"] == ["Call Taking"]
    # An agency with no assignment on the ticket any more still names an agency of the document.
    stray = build(police_ticket(notes=(Note("catatan", "x", at(6), agency="satpol-pp"),)))
    assert f"satpol-pp.{CENTRE}" in check_document(stray)


def test_call_identifiers_stay_distinct_and_alphanumeric():
    ids = ["1740816000.42", "1740816000x2ex42", "host-1740816000.42", "host_1740816000.42"]
    uniques = [call_identifier(u, CENTRE).split(":")[4] for u in ids]
    assert len(set(uniques)) == len(ids)
    assert all(re.fullmatch("[A-Za-z0-9]+", u) for u in uniques)


def test_ids_stay_the_same_as_the_ticket_grows():
    """STA-021: a component keeps its $id in every EIDO of the incident."""
    before = build(police_ticket(transcript="", notes=police_ticket().notes))
    after = build(
        police_ticket(notes=(*police_ticket().notes, Note("Pelaku tertangkap", "budi", at(9))))
    )
    before_notes = {n["notesActionComments"]: n["$id"] for n in before["notesComponent"]}
    after_notes = {n["notesActionComments"]: n["$id"] for n in after["notesComponent"]}
    for text, id_ in before_notes.items():
        assert after_notes[text] == id_


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="naive"):
        build(police_ticket(updated_at=datetime(2025, 3, 1, 8, 5)))
    # Any aware time is written in UTC.
    document = build(police_ticket(arrived_at=T0.astimezone(timezone(timedelta(hours=7)))))
    assert document["agencyComponent"][0]["lastUpdateTimeStamp"] == "2025-03-01T08:00:00.000+00:00"


HOSTILE = "\"'<>&</ca:A4>]]><script>alert(1)</script>\ud800\x00\x1b" + "ß" * 10_000


def test_hostile_text_gives_valid_json_and_escaped_xml_and_html():
    """Quotes, markup, a lone surrogate, control characters and 10,000 characters in every text
    field: the document is still UTF-8 JSON, the location still well-formed XML whose fields hold
    the text as typed, the notes still HTML that shows the text rather than running it."""
    hostile_agency = agency(
        "cleared",
        8,
        agency_name=HOSTILE,
        updated_by=HOSTILE,
        assigned_by=HOSTILE,
        reason=HOSTILE,
    )
    incident = police_ticket(
        category_name=HOSTILE,
        caller_number=HOSTILE,
        caller_name=HOSTILE,
        what=HOSTILE,
        where=HOSTILE,
        who=HOSTILE,
        kecamatan=HOSTILE,
        kelurahan=HOSTILE,
        address=HOSTILE,
        landmark=HOSTILE,
        transcript=HOSTILE,
        calls=(CallView(HOSTILE, HOSTILE, T0, at(1), None, HOSTILE),),
        notes=(Note(HOSTILE, HOSTILE, at(2)),),
        agencies=(hostile_agency,),
    )
    document = build(incident)
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")  # a lone surrogate would fail
    assert json.loads(body) == document
    check_document(document)

    # What XML and UTF-8 cannot carry is shown as U+FFFD; everything else arrives as typed.
    shown = HOSTILE.replace("\ud800", "\ufffd").replace("\x00", "\ufffd").replace("\x1b", "\ufffd")
    fields = civic_address(document["locationComponent"][0])
    for civic in CIVIC_FIELDS:
        assert fields[civic] == shown
    assert document["locationComponent"][0]["locationDescriptionText"] == shown

    for note in document["notesComponent"]:
        comments = note["notesActionComments"]
        assert "<script>" not in comments
        assert shown in html.unescape(comments)

    # Identifiers made from hostile names are still identifiers: no markup, no spaces.
    for id_ in components(document):
        assert re.fullmatch(r"[A-Za-z0-9:@._-]+", id_), id_
