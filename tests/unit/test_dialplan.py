"""The dialplan contract: the templates use only names telephony/dialplan.py defines, the rendered
dialplan has every context, extension, label and AGI route the controller sends calls to, and
numbers read from a channel are ASCII digits or nothing."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import cast

import jinja2
import jinja2.nodes
import pytest

from callcenter import agi_routes
from callcenter.config import load
from callcenter.telephony import dialplan
from callcenter.telephony.asterisk import TEMPLATES_DIR, render_templates
from callcenter.telephony.dialplan import agi_int

REPO = Path(__file__).resolve().parents[2]
ROUTES = [v for k, v in dialplan.names().items() if k.startswith("ROUTE_")]


@pytest.mark.parametrize(
    ("text", "number"),
    [("0", 0), ("7", 7), ("42", 42), ("007", 7), ("999999999999", 999_999_999_999)],
)
def test_agi_int_reads_ascii_digits(text, number):
    assert agi_int(text, None) == number


@pytest.mark.parametrize(
    "text",
    [
        "",
        "²",  # superscript two: str.isdigit() says yes, int() refuses it
        "1²",
        "٣",  # Arabic-Indic three: int() would read it as 3
        "١٢",
        "۳",  # Extended Arabic-Indic (Persian) three
        "３",  # fullwidth three
        "𝟑",  # mathematical bold three
        " 1",
        "1 ",
        "1\n",
        "\t1",
        "+1",
        "-1",
        "1_000",
        "1e3",
        "1.0",
        "0x1f",
        "1234567890123",  # thirteen digits: longer than any id the dialplan carries
        "9" * 100_000,
        "12\x0034",
    ],
)
def test_agi_int_refuses_anything_else(text):
    assert agi_int(text, None) is None
    assert agi_int(text, -1) == -1


def _dialplan_names_used(source: str) -> set[str]:
    tree = jinja2.Environment(autoescape=False).parse(source)  # noqa: S701 - parsed, never rendered
    return {
        node.attr
        for node in tree.find_all(jinja2.nodes.Getattr)
        if isinstance(node.node, jinja2.nodes.Name) and node.node.name == "dialplan"
    }


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES_DIR.glob("*.j2")))
def test_every_dialplan_name_a_template_uses_is_defined(template):
    used = _dialplan_names_used((TEMPLATES_DIR / template).read_text())
    assert used <= set(dialplan.names()), used - set(dialplan.names())


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, str]:
    path = tmp_path_factory.mktemp("conf") / "callcenter.toml"
    extra = '\n[[test_callers]]\nextension = "9001"\nname = "Penelepon uji"\n'
    path.write_text((REPO / "callcenter.example.toml").read_text() + extra)
    config = load(path, env={})
    return render_templates(config, path.parent / "etc")


def _dialplan(text: str) -> dict[str, dict[str, set[str]]]:
    """extensions.conf as context → extension → its priority labels ("1" for the first)."""
    contexts: dict[str, dict[str, set[str]]] = {}
    context = exten = ""
    for line in text.splitlines():
        line = line.strip()
        if m := re.fullmatch(r"\[([^\]]+)\]", line):
            context = m[1]
            contexts[context] = {}
        elif m := re.match(r"exten => ([^,]+),1[,(]", line):
            exten = m[1]
            contexts[context].setdefault(exten, set()).add("1")
        elif m := re.match(r"same => n\(([^)]+)\)", line):
            contexts[context][exten].add(m[1])
    return contexts


@pytest.mark.parametrize(
    ("context", "exten", "label"),
    [
        # Where the controller sends calls (telephony/actions.py, over AMI).
        (dialplan.PUBLIC_CONTEXT, dialplan.EMERGENCY_EXTEN, "1"),
        (dialplan.PUBLIC_CONTEXT, dialplan.EMERGENCY_EXTEN, dialplan.CONFERENCE_LABEL),
        (dialplan.PUBLIC_CONTEXT, dialplan.EMERGENCY_EXTEN, dialplan.ONHOLD_LABEL),
        (dialplan.DISPATCH_CONTEXT, dialplan.CALLTAKER_LEG_EXTEN, "1"),
        (dialplan.DISPATCH_CONTEXT, dialplan.AGENCY_LEG_EXTEN, "1"),
        (dialplan.DISPATCH_CONTEXT, dialplan.HELD_EXTEN, "1"),
        (dialplan.SUPERVISE_CONTEXT, dialplan.SPY_EXTEN, "1"),
        (dialplan.CALLBACK_CONTEXT, dialplan.START_EXTEN, "1"),
        (dialplan.DISPATCH_ANSWERED_CONTEXT, dialplan.START_EXTEN, "1"),
        # Where each kind of phone dials 112 (pjsip.conf's contexts).
        (dialplan.CALLTAKERS_CONTEXT, dialplan.EMERGENCY_EXTEN, "1"),
        (dialplan.AGENCIES_CONTEXT, dialplan.EMERGENCY_EXTEN, "1"),
        (dialplan.SUPERVISORS_CONTEXT, dialplan.EMERGENCY_EXTEN, "1"),
    ],
)
def test_the_dialplan_has_every_place_the_controller_names(rendered, context, exten, label):
    assert label in _dialplan(rendered["extensions.conf"]).get(context, {}).get(exten, set())


def test_every_phone_context_is_in_the_dialplan(rendered):
    phones = set(re.findall(r"^context = (\S+)$", rendered["pjsip.conf"], re.MULTILINE))
    assert phones == {
        dialplan.CALLTAKERS_CONTEXT,
        dialplan.PUBLIC_CONTEXT,
        dialplan.AGENCIES_CONTEXT,
        dialplan.SUPERVISORS_CONTEXT,
    }
    assert phones <= set(_dialplan(rendered["extensions.conf"]))


def test_the_dialplan_calls_every_agi_route_and_no_other(rendered):
    called = set(re.findall(r"AGI\(\$\{NGALAM_AGI\}/([^,)]+)", rendered["extensions.conf"]))
    assert called == set(ROUTES)


def test_every_agi_call_passes_the_instances_key_first(rendered):
    """The FastAGI server serves no request without it (issue 15, finding 4)."""
    text = rendered["extensions.conf"]
    calls = re.findall(r"AGI\(([^)]*)\)", text)
    assert len(calls) >= len(ROUTES)
    assert all(c.split(",")[1:] == [f"${{{dialplan.AGI_KEY}}}"] for c in calls), calls
    assert re.search(rf"^{dialplan.AGI_KEY} = [0-9a-f]{{64}}$", text, re.MULTILINE)


def test_each_agi_route_is_a_module_of_its_name_and_in_the_table():
    for route in ROUTES:
        module = importlib.import_module(f"callcenter.agi_routes.{route}")
        assert inspect.iscoroutinefunction(getattr(module, route))
    # Binding touches none of the parts: a stand-in is enough to read the table's names.
    assert set(agi_routes.table(cast(agi_routes.RouteDeps, object()))) == set(ROUTES)


def test_conference_profiles_match_the_dialplan(rendered):
    profiles = set(re.findall(r"^\[([^\]]+)\]$", rendered["confbridge.conf"], re.MULTILINE))
    assert {dialplan.BRIDGE_PROFILE, dialplan.CALLER_PROFILE, dialplan.STAFF_PROFILE} <= profiles
    bridged = re.findall(r"ConfBridge\([^,]+,([^,]+),([^)]+)\)", rendered["extensions.conf"])
    assert bridged and {p for pair in bridged for p in pair} <= profiles
