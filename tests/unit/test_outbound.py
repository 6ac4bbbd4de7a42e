"""Following the live bus for the agencies' webhooks: when a burst outruns the follower and the bus
drops its subscription, the changes already queued are still sent, in the order they were made."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from callcenter.config import load
from callcenter.live.bus import Bus
from callcenter.live.facts import CallRef
from callcenter.live.messages import AssignmentChanged
from callcenter.routing.outbound import Outbound
from tests.records import sqlite_records
from tests.unit.fakes import CONFIG_TOML
from tests.waiting import until_async

HOOK = "https://sistem.polresta.example/112"


@dataclass
class Sender:
    """The webhook sender's queue, as Outbound hands it payloads; `then` runs after a payload is
    taken (a burst arriving meanwhile, say)."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    then: Any = None

    def send(self, agency_id: str, url: str, secret: str, payload: dict[str, Any]) -> str:
        self.sent.append(payload)
        if self.then is not None:
            then, self.then = self.then, None
            then()
        return f"event-{len(self.sent)}"

    async def stop(self) -> None:
        pass


@pytest.fixture
async def centre(tmp_path):
    path = tmp_path / "hook.toml"
    path.write_text(
        CONFIG_TOML.replace("ring_timeout = 5\n", f'ring_timeout = 5\nwebhook_url = "{HOOK}"\n', 1)
    )
    config = load(path, env={"NGALAM_WEBHOOK_SECRET_POLRESTA": "s" * 20})
    records = await sqlite_records(tmp_path)
    call = CallRef("hook-1.1", channel="PJSIP/9001-01", caller_number="0811")
    ticket = await records.calls.open_ticket(call, source="ivr")
    # A queue of three: the fourth change in a burst overflows it.
    bus = Bus(queue_size=3)
    outbound = Outbound(config, bus, records.tickets, Sender())  # type: ignore[arg-type]
    yield bus, outbound, ticket.id
    await outbound.stop()
    await records.engine.dispose()


def change(ticket_id: int, n: int) -> AssignmentChanged:
    return AssignmentChanged(
        ticket_id=ticket_id,
        assignment_id=n,
        agency="polresta",
        status="assigned",
        previous=None,
        actor="petugas",
        assignment={"id": n},
    )


def sent(outbound: Outbound) -> list[int]:
    return [p["assignment"]["id"] for p in outbound.sender.sent]  # type: ignore[attr-defined]


async def test_changes_queued_before_the_bus_dropped_the_follower_are_still_sent(centre):
    bus, outbound, ticket_id = centre
    for n in (1, 2, 3, 4):  # the follower is not reading yet: the fourth overflows its queue
        bus.publish(change(ticket_id, n))

    outbound.start()

    async def caught_up() -> bool:
        return len(outbound.sender.sent) == 3

    await until_async(caught_up, message="the changes queued before the drop were not sent")
    bus.publish(change(ticket_id, 5))

    async def following() -> bool:
        return len(outbound.sender.sent) == 4

    await until_async(following, message="the change after the drop was not sent")
    # The one that overflowed the queue is the one lost; the receiver reads it from EIDO.
    assert sent(outbound) == [1, 2, 3, 5]
    # Each with its ticket read, as any change is sent.
    assert {p["ticket"]["id"] for p in outbound.sender.sent} == {ticket_id}


async def test_a_second_burst_while_catching_up_keeps_the_order_they_were_made_in(centre):
    bus, outbound, ticket_id = centre
    for n in (1, 2, 3, 4):
        bus.publish(change(ticket_id, n))
    # While the first of the old queue is sent, a second burst overflows the new subscription.
    outbound.sender.then = lambda: [bus.publish(change(ticket_id, n)) for n in (11, 12, 13, 14)]

    outbound.start()

    async def all_sent() -> bool:
        return len(outbound.sender.sent) == 6

    await until_async(all_sent, message="not every change queued was sent")
    assert sent(outbound) == [1, 2, 3, 11, 12, 13]
