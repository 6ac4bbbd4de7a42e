"""Tickets: every 112 call becomes one, and every change to one is a TicketEvent."""
