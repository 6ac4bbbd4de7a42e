"""The JSON API (documented in README.md): its route table. The handlers live by resource —
`sessions`, `tickets`, `calls`, `reference`, `desks`, `users` (and `supervision`, `reports`) — and
are thin: parse and check input, call a domain service, shape output. Every route names the
roles it admits (`access`); a call-taker steers only the calls they answered and their own desk."""

from __future__ import annotations

from aiohttp import web

from . import agency, assignments, calls, desks, reference, sessions, tickets, users


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/login", sessions.post_login)
    app.router.add_post("/api/logout", sessions.post_logout)
    app.router.add_get("/api/me", sessions.get_me)
    app.router.add_get("/api/tickets", tickets.get_tickets)
    app.router.add_get("/api/tickets/{id}", tickets.get_ticket)
    app.router.add_get("/api/tickets/{id}/recording", tickets.get_recording)
    app.router.add_patch("/api/tickets/{id}", tickets.patch_ticket)
    app.router.add_post("/api/tickets/{id}/close", tickets.post_close)
    app.router.add_post("/api/tickets/{id}/notes", tickets.post_note)
    app.router.add_post("/api/tickets/{id}/assignments", assignments.post_assignment)
    app.router.add_get("/api/agencies", reference.get_agencies)
    app.router.add_get("/api/tickets/{id}/eido", agency.get_eido)
    app.router.add_get("/api/agency/assignments", agency.get_agency_assignments)
    app.router.add_get("/api/agency/declined", agency.get_declined)
    app.router.add_post("/api/assignments/{id}/status", agency.post_assignment_status)
    app.router.add_post("/api/calls/{unique_id}/dispatch", calls.post_dispatch)
    for action, route in (("hold", "hold"), ("resume", "resume"), ("hang_up", "hangup")):
        app.router.add_post(f"/api/calls/{{unique_id}}/{route}", calls.call_action(action))
    app.router.add_get("/api/agents", desks.get_agents)
    app.router.add_post("/api/agents/{extension}/state", desks.post_agent_state)
    app.router.add_get("/api/agents/{extension}/events", desks.get_agent_events)
    app.router.add_get("/api/queues", desks.get_queues)
    app.router.add_get("/api/places", reference.get_places)
    app.router.add_get("/api/protocols", reference.get_protocols)
    app.router.add_put("/api/protocols/{category}", reference.put_protocol)
    app.router.add_get("/api/users", users.get_users)
    app.router.add_post("/api/users", users.post_users)
    app.router.add_delete("/api/users/{username}", users.delete_user)
