"""The contract between the controller and the dialplan, in one place: the names of the channel
variables both read and write, the contexts, extensions and labels the controller sends calls to,
and the FastAGI routes the dialplan calls.

asterisk-conf/*.j2 are rendered with these names (`{{ dialplan.TICKET_ID }}`, and
`{{ dialplan.TICKET_ID | var }}` for its value, `${NGALAM_TICKET_ID}`), so a rename here renames
both sides. Names only the dialplan itself uses (its globals, loop counters, labels nobody jumps to
from outside) stay in extensions.conf.j2.
"""

from __future__ import annotations

import re
from typing import TypeVar

# ---- channel variables -----------------------------------------------------------------------

# The ticket a callback is for (set by the callback's Originate).
TICKET_ID = "NGALAM_TICKET_ID"
# Asterisk's own name: Queue() reads the caller's priority from it. Every caller joins at
# JOIN_PRIORITY (nothing is known of them yet); their keys move them (ivr/menu.py).
QUEUE_PRIORITY = "QUEUE_PRIO"
JOIN_PRIORITY = "1"
MAX_WAIT = "NGALAM_MAX_WAIT"  # seconds in the queue before overflow ("" = no limit)
OVERFLOW = "NGALAM_OVERFLOW"  # "no" for non-emergency calls: they wait for a call-taker
# Set by Queue(): why the caller left the queue without a call-taker.
QUEUE_STATUS = "QUEUESTATUS"

# The overflow route's answer: how many targets to dial, then each target and its ring time.
TARGET_COUNT = "NGALAM_TARGETS"
TARGET = "NGALAM_TARGET_{}"
RING = "NGALAM_RING_{}"
AGENCY = "NGALAM_AGENCY"  # the agency the overflow rings
CURRENT_TARGET = "NGALAM_TARGET"  # the target Dial() rings now
DISPATCH_ID = "NGALAM_DISPATCH_ID"
# Dial()'s U() option runs a Gosub on the agency's channel; the Gosub's first argument is the
# only way to hand it the dispatch id, and Asterisk names it ARG1.
ANSWERED_DISPATCH_ID = "ARG1"
# Set by Dial() in the overflow and callback paths; the routes record them.
DIAL_STATUS = "DIALSTATUS"
ANSWERED_TIME = "ANSWEREDTIME"
DIALED_TIME = "DIALEDTIME"

# The ConfBridge a dispatched call is in: set over AMI before the call is moved there.
CONFERENCE = "NGALAM_CONFERENCE"
# Set by the Originate that rings a supervisor's phone into ChanSpy: whom to spy on, and how
# (w whisper to the call-taker, B barge in on both).
SPY_CHANNEL = "NGALAM_SPY_CHANNEL"
SPY_OPTIONS = "NGALAM_SPY_OPTIONS"
# Set by the Originate of a whisper: the prompts to play, joined with "&" as Playback() takes them.
WHISPER_PROMPTS = "NGALAM_WHISPER_PROMPTS"
# Set by the Originate of a callback: what the dialplan dials once the call-taker picks up.
CALLBACK_TARGET = "NGALAM_CALLBACK_TARGET"

# ---- contexts, extensions, labels ------------------------------------------------------------

# Where 112 calls enter: AMI events and call records from here are the callers' legs.
PUBLIC_CONTEXT = "public"
EMERGENCY_EXTEN = "112"
# In Indonesia the old emergency numbers still get dialled; they all lead to 112 here. A call to
# one of them is a 112 call from its first AMI event on (Newchannel names the number dialled).
OLD_EMERGENCY_NUMBERS = ("110", "113", "118", "119")
# Labels in PUBLIC_CONTEXT,EMERGENCY_EXTEN the controller moves a caller to (AMI Redirect).
CONFERENCE_LABEL = "conference"
ONHOLD_LABEL = "onhold"

# Each kind of phone's context (pjsip.conf): what it may dial.
CALLTAKERS_CONTEXT = "calltakers"
AGENCIES_CONTEXT = "agencies"
SUPERVISORS_CONTEXT = "supervisors"

# Legs the controller moves into a caller's conference, or parks while the caller is on hold.
DISPATCH_CONTEXT = "dispatch"
CALLTAKER_LEG_EXTEN = "calltaker"
AGENCY_LEG_EXTEN = "agency"
HELD_EXTEN = "held"
# The Gosub Dial()'s U() runs when an overflowing call's agency answers.
DISPATCH_ANSWERED_CONTEXT = "dispatch-answered"

# Originated by the controller: a supervisor's phone into ChanSpy; a call-taker's phone that then
# dials an abandoned caller back.
SUPERVISE_CONTEXT = "supervise"
SPY_EXTEN = "spy"
CALLBACK_CONTEXT = "callback"
# Asterisk's name for a context's start when nothing was dialled.
START_EXTEN = "s"

# The music-on-hold class of the queue: the menu a caller hears while waiting (ivr/menu.py).
WAITING_MUSIC = "ngalam-menu"

# Originated by the controller to play prompts to a caller waiting in the queue: the Local
# channel's half in this context plays WHISPER_PROMPTS into the other half's ChanSpy whisper.
WHISPER_CONTEXT = "whisper"
WHISPER_EXTEN = "play"
# The unique id of a whisper's spying half starts with this (hung up when the caller is answered).
WHISPER_PREFIX = "whisper-"

# confbridge.conf's profiles, named by ConfBridge() in the dialplan.
BRIDGE_PROFILE = "ngalam-conference"
CALLER_PROFILE = "ngalam-caller"
STAFF_PROFILE = "ngalam-staff"

# ---- FastAGI routes (agi://…/<route>): each is the module callcenter/agi_routes/<route>.py ------

ROUTE_OVERFLOW = "overflow"
ROUTE_RING = "ring"
ROUTE_ANSWERED = "answered"
ROUTE_DIALLED = "dialled"
ROUTE_UNANSWERED = "unanswered"
ROUTE_CALLBACK = "callback"

# Every AGI() passes the instance's FastAGI key (AsteriskConfig.agi_key, held in this dialplan
# global) as its first argument: the controller serves no request without it (telephony/agi.py).
AGI_KEY = "NGALAM_AGI_KEY"


def names() -> dict[str, str]:
    """Every name above, by its constant's name: what the templates are rendered with."""
    return {k: v for k, v in globals().items() if k.isupper() and isinstance(v, str)}


# ---- values from the channel ------------------------------------------------------------------

_D = TypeVar("_D")

# ASCII digits only: str.isdigit() also takes "²" and "٣", which int() refuses or reads as 3.
# Twelve digits is more than any id or count the dialplan carries, and keeps int() cheap.
_AGI_INT = re.compile(r"[0-9]{1,12}")


def agi_int(value: str, default: _D) -> int | _D:
    """`value` as a number if it is 1 to 12 ASCII digits and nothing else, otherwise `default`.

    For whatever a channel variable or AGI argument holds: untrusted text."""
    return int(value) if _AGI_INT.fullmatch(value) else default


# ---- hearing a caller while they wait ---------------------------------------------------------

# Originated by the controller when a caller joins the queue (speech/live.py, Snoops): a Local
# channel whose one half spies on the caller, listen-only, and whose other half streams what it
# hears to the controller's AudioSocket server for live recognition.
SNOOP_CONTEXT = "snoop"
SNOOP_SPY_EXTEN = "spy"
SNOOP_STREAM_EXTEN = "stream"
# Set by that Originate: the caller's unique id, the AudioSocket stream's UUID, and host:port of
# the AudioSocket server.
SNOOP_CALL = "NGALAM_SNOOP_CALL"
SNOOP_STREAM = "NGALAM_SNOOP_STREAM"
SNOOP_AUDIOSOCKET = "NGALAM_SNOOP_AUDIOSOCKET"
# The unique id of the snoop's streaming half starts with this (its hangup names no caller).
SNOOP_PREFIX = "snoop-"

# ---- calling an agency's desk phone about an assignment ------------------------------------------

# Originated by the controller (routing/callouts.py): the agency's desk phone, answered, hears the
# briefing and presses 1 to accept or 2 to decline; the key goes back as a UserEvent, no FastAGI.
CALLOUT_CONTEXT = "agency-callout"
# Set by that Originate: the assignment the call is about, and the briefing's prompts joined
# with "&" (names under the prompts directory, as Playback() takes them).
CALLOUT_ASSIGNMENT = "NGALAM_CALLOUT_ASSIGNMENT"
CALLOUT_BRIEFING = "NGALAM_CALLOUT_BRIEFING"
# The key the desk phone pressed ("" if none), as Read() leaves it.
CALLOUT_KEY = "NGALAM_CALLOUT_KEY"
# The UserEvent that carries the key to the controller (its fields: Assignment, Key).
CALLOUT_EVENT = "AgencyCallout"
# The unique id of a callout's channel starts with this: only channels the controller placed count.
CALLOUT_PREFIX = "callout-"
