from callcenter.tickets.lifecycle import Status, after_answered, after_hangup, after_queued


def test_a_call_moves_forward_only():
    assert after_queued(Status.NEW) == Status.QUEUED
    assert after_queued(Status.ANSWERED) is None  # a replayed QueueCallerJoin changes nothing
    assert after_answered(Status.QUEUED) == Status.ANSWERED
    assert after_answered(Status.ABANDONED) is None


def test_hangup_before_a_calltaker_is_abandoned_after_is_ended():
    assert after_hangup(Status.NEW) == Status.ABANDONED
    assert after_hangup(Status.QUEUED) == Status.ABANDONED
    assert after_hangup(Status.ANSWERED) == Status.ENDED
    assert after_hangup(Status.ABANDONED) is None
