"""The agency loop's rules: which moves an assignment may make, who may make them, and which
deadline comes next with which escalation step (routing/agency_loop.py; pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.config import Agency
from callcenter.refused import Why
from callcenter.routing.agency_loop import (
    MAX_TEXT,
    Deadline,
    Deadlines,
    Due,
    Escalated,
    LoopRefused,
    LoopState,
    Mover,
    Status,
    Step,
    back_to_centre,
    check_move,
    may_move,
    next_due,
    re_alert_target,
    status_of,
)

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
DEFAULTS = Deadlines()


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (Status.ASSIGNED, Status.ACKNOWLEDGED),
        (Status.ACKNOWLEDGED, Status.EN_ROUTE),
        (Status.EN_ROUTE, Status.ON_SCENE),
        # Skips forward: a patrol already nearby reports on-scene without en-route.
        (Status.ASSIGNED, Status.ON_SCENE),
        (Status.ACKNOWLEDGED, Status.ON_SCENE),
        (Status.ASSIGNED, Status.EN_ROUTE),
    ],
)
def test_forward_moves_are_allowed_and_may_skip(current, new):
    assert check_move(current, new, "") == ""


def test_cleared_needs_a_disposition_and_keeps_it_trimmed():
    with pytest.raises(LoopRefused) as refused:
        check_move(Status.ON_SCENE, Status.CLEARED, "   ")
    assert refused.value.why == Why.BAD_REQUEST
    assert check_move(Status.ON_SCENE, Status.CLEARED, "  pohon dipotong \n") == "pohon dipotong"


@pytest.mark.parametrize("current", [Status.ASSIGNED, Status.ACKNOWLEDGED, Status.EN_ROUTE])
def test_declined_with_a_reason_before_on_scene(current):
    assert check_move(current, Status.DECLINED, "bukan wilayah kami") == "bukan wilayah kami"
    with pytest.raises(LoopRefused, match="reason"):
        check_move(current, Status.DECLINED, "")


def test_declining_once_on_scene_is_refused():
    with pytest.raises(LoopRefused, match="on scene") as refused:
        check_move(Status.ON_SCENE, Status.DECLINED, "bukan urusan kami")
    assert refused.value.why == Why.BAD_REQUEST


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (Status.ON_SCENE, Status.EN_ROUTE),
        (Status.EN_ROUTE, Status.ACKNOWLEDGED),
        (Status.ACKNOWLEDGED, Status.ASSIGNED),
    ],
)
def test_backward_moves_are_bad_requests(current, new):
    with pytest.raises(LoopRefused) as refused:
        check_move(current, new, "")
    assert refused.value.why == Why.BAD_REQUEST


@pytest.mark.parametrize("status", [Status.ACKNOWLEDGED, Status.EN_ROUTE, Status.ON_SCENE])
def test_a_repeat_is_a_conflict(status):
    with pytest.raises(LoopRefused) as refused:
        check_move(status, status, "")
    assert refused.value.why == Why.CONFLICT


@pytest.mark.parametrize("closed", [Status.CLEARED, Status.DECLINED])
def test_a_closed_assignment_moves_no_more(closed):
    for new in Status:
        with pytest.raises(LoopRefused) as refused:
            check_move(closed, new, "teks")
        assert refused.value.why == Why.CONFLICT


def test_hostile_texts_and_status_names_are_refused_clearly():
    with pytest.raises(LoopRefused, match="longer than"):
        check_move(Status.ON_SCENE, Status.CLEARED, "x" * (MAX_TEXT + 1))
    for name in ("", "ON-SCENE", "onscene", "cleared\n", "assigned; drop table", "\x00"):
        with pytest.raises(LoopRefused, match="unknown status") as refused:
            status_of(name)
        assert refused.value.why == Why.BAD_REQUEST
    assert status_of("en-route") == Status.EN_ROUTE


def test_only_the_agency_itself_and_overseers_may_move():
    assert may_move(Mover("polresta1", "agency", "polresta"), "polresta")
    assert may_move(Mover("telepon:PJSIP/7001", "agency", "polresta"), "polresta")
    assert not may_move(Mover("pmi1", "agency", "pmi"), "polresta")
    assert not may_move(Mover("orphan", "agency", None), "polresta")
    assert may_move(Mover("penyelia1", "supervisor"), "polresta")
    assert may_move(Mover("admin", "admin"), "polresta")
    assert not may_move(Mover("petugas1", "call-taker"), "polresta")
    assert not may_move(Mover("x", "", "polresta"), "polresta")


def test_a_decline_hands_the_ticket_back():
    assert back_to_centre(Status.DECLINED)
    assert not any(back_to_centre(s) for s in Status if s != Status.DECLINED)


# ---- deadlines ---------------------------------------------------------------------------------


def test_a_new_assignment_is_chased_for_acknowledgement_first():
    due = next_due(LoopState(Status.ASSIGNED, T0), DEFAULTS)
    assert due == Due(Deadline.ACKNOWLEDGE, minutes(2), Step.RE_ALERT)


def test_each_status_moves_the_deadline_on_measured_from_the_assignment():
    assert next_due(LoopState(Status.ACKNOWLEDGED, T0), DEFAULTS) == Due(
        Deadline.ON_SCENE, minutes(10), Step.RE_ALERT
    )
    assert next_due(LoopState(Status.EN_ROUTE, T0), DEFAULTS) == Due(
        Deadline.ON_SCENE, minutes(10), Step.RE_ALERT
    )
    # Skipping to on-scene meets the acknowledge deadline too.
    assert next_due(LoopState(Status.ON_SCENE, T0), DEFAULTS) == Due(
        Deadline.CLEARED, minutes(60), Step.RE_ALERT
    )
    assert next_due(LoopState(Status.CLEARED, T0), DEFAULTS) is None
    assert next_due(LoopState(Status.DECLINED, T0), DEFAULTS) is None


def test_the_ladder_re_alerts_then_raises_the_board_then_stops():
    state = LoopState(Status.ASSIGNED, T0)
    first = next_due(state, DEFAULTS)
    assert first is not None and first.step == Step.RE_ALERT
    # The engine took the step late (it was down): the board follows a minute after it.
    state = LoopState(Status.ASSIGNED, T0, Escalated(first.deadline, first.step, minutes(3)))
    second = next_due(state, DEFAULTS)
    assert second == Due(Deadline.ACKNOWLEDGE, minutes(4), Step.BOARD)
    # After the board, the acknowledge deadline is not chased again; the on-scene one is.
    state = LoopState(Status.ASSIGNED, T0, Escalated(Deadline.ACKNOWLEDGE, Step.BOARD, minutes(4)))
    assert next_due(state, DEFAULTS) == Due(Deadline.ON_SCENE, minutes(10), Step.RE_ALERT)
    state = LoopState(Status.ASSIGNED, T0, Escalated(Deadline.CLEARED, Step.BOARD, minutes(61)))
    assert next_due(state, DEFAULTS) is None  # every ladder climbed: no endless alerts


def test_a_met_deadline_after_a_re_alert_goes_on_to_the_next():
    state = LoopState(
        Status.ACKNOWLEDGED, T0, Escalated(Deadline.ACKNOWLEDGE, Step.RE_ALERT, minutes(2))
    )
    assert next_due(state, DEFAULTS) == Due(Deadline.ON_SCENE, minutes(10), Step.RE_ALERT)


def test_at_most_six_alerts_for_an_agency_that_never_answers():
    state = LoopState(Status.ASSIGNED, T0)
    taken = []
    while (due := next_due(state, DEFAULTS)) is not None:
        taken.append((due.deadline, due.step))
        state = LoopState(state.status, T0, Escalated(due.deadline, due.step, due.at))
        assert len(taken) <= 6
    assert taken == [(d, s) for d in Deadline for s in Step]


def test_deadlines_come_from_the_agency_or_the_defaults():
    agency = Agency(
        "polresta",
        "Polresta",
        ["police"],
        "PJSIP/7001",
        acknowledge_within=3,
        on_scene_within=9,
        cleared_within=20,
        escalate_after=2,
    )
    d = Deadlines.of(agency)
    assert (d.acknowledge, d.on_scene, d.cleared, d.escalate_after) == tuple(
        timedelta(seconds=s) for s in (3, 9, 20, 2)
    )
    assert Deadlines.of(None) == Deadlines()
    assert Deadlines() == Deadlines.of(Agency("pmi", "PMI", [], "PJSIP/7002"))


def test_a_re_alert_calls_the_backup_else_the_primary():
    assert re_alert_target(Agency("a", "A", [], "PJSIP/7001", backup="PJSIP/7011")) == "PJSIP/7011"
    assert re_alert_target(Agency("a", "A", [], "PJSIP/7001")) == "PJSIP/7001"
