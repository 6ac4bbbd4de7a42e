"""The configuration's shape: typed defaults for every section, and the error a bad value raises."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

MIN_SECRET_LENGTH = 12
EXTENSION_RE = re.compile(r"^[0-9]{2,8}$")
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# Web logins: what `create-user` accepts and what links a call-taker's softphone to the console.
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message names the file and the key."""

    def __init__(self, source: str, key: str, problem: str):
        super().__init__(f"{source}: {key}: {problem}")
        self.source = source
        self.key = key


@dataclass
class AsteriskConfig:
    # Filesystem root Asterisk runs in: "/" for a system install, else a chroot (Debian sid root).
    root: str = "/"
    # Name of this Asterisk instance; its files live in <root>/var/lib/ngalam112/<instance>.
    instance: str = "ngalam112"
    # Host Asterisk's AMI and SIP listen on. Loopback unless a deployment says otherwise.
    bind: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "callcenter"
    ami_secret: str = ""  # env NGALAM_AMI_SECRET
    sip_port: int = 5060
    rtp_start: int = 10000
    rtp_end: int = 10999
    # Seconds without audio (RTP) from a phone before Asterisk hangs its call up: a caller whose
    # phone vanished without hanging up (a mobile network dropping) would otherwise wait forever.
    rtp_timeout: int = 30
    # The same while that phone holds the call: it may rightly send no audio then.
    rtp_timeout_hold: int = 300
    # SIP session timers (RFC 4028): seconds between the refreshes that prove a call's far end is
    # still there, with far ends that support them (carriers do).
    session_expires: int = 1800
    # Where Asterisk reaches the controller's FastAGI server.
    agi_host: str = "127.0.0.1"
    # Where rendered config, recordings, logs live. Empty: derived from root and instance.
    instance_dir: str = ""
    # The group that may read the instance's recordings and call records besides their owner:
    # set it when Asterisk and the controller run as different users (deploy/systemd: the
    # controller's group "ngalam112"). Empty: the owner alone (directories 0700).
    shared_group: str = ""

    @property
    def agi_key(self) -> str:
        """What the dialplan passes with every FastAGI request, so the controller serves this
        instance's Asterisk and no other local process (telephony/agi.py). Derived from the AMI
        secret: as secret and as much this instance's own, with nothing more to configure, and it
        reveals nothing of that secret."""
        return hmac.new(self.ami_secret.encode(), b"ngalam112 FastAGI", hashlib.sha256).hexdigest()

    def host_instance_dir(self) -> Path:
        if self.instance_dir:
            return Path(self.instance_dir)
        return Path(self.root) / "var/lib/ngalam112" / self.instance

    def seen_by_asterisk(self, host_path: Path) -> str:
        """The path Asterisk (possibly chrooted) uses for a file the controller sees at host_path."""
        root = Path(self.root).resolve()
        resolved = host_path.resolve()
        if root == Path("/"):
            return str(resolved)
        return "/" + str(resolved.relative_to(root))


@dataclass
class ControllerConfig:
    agi_bind: str = "127.0.0.1"
    agi_port: int = 4573
    # Where Asterisk streams a caller's description (AudioSocket) for live recognition.
    audiosocket_port: int = 4574
    http_bind: str = "127.0.0.1"
    http_port: int = 8112
    # Seconds between AMI reconnect attempts grow from the first value up to the second.
    ami_reconnect_min: float = 0.5
    ami_reconnect_max: float = 30.0
    # Seconds between checks of Asterisk's channel list, which close calls whose end went unheard.
    channel_sweep: float = 30.0
    # Seconds between looks for agency deadlines that have passed (routing/deadlines.py).
    deadline_check: float = 5.0


@dataclass
class DatabaseConfig:
    # SQLAlchemy async URL; env DATABASE_URL overrides (postgresql://… is accepted as is).
    url: str = "sqlite+aiosqlite:///var/callcenter.db"


@dataclass
class QueueConfig:
    name: str = "calltakers"
    # Seconds a call-taker's phone rings before the next one is tried.
    ring_timeout: int = 15
    # Seconds after a call before the call-taker gets the next one.
    wrapup_time: int = 5
    # Why a call-taker may pause (the console offers these; reports count them).
    pause_reasons: list[str] = field(
        default_factory=lambda: ["istirahat", "salat", "toilet", "briefing", "pelatihan", "lainnya"]
    )


@dataclass
class Phone:
    """A SIP account Asterisk serves: a call-taker's softphone or a test caller's phone."""

    extension: str
    name: str
    secret: str = ""  # env NGALAM_SIP_SECRET_<extension>
    # Codec negotiation stays on u-law/a-law: what carriers and pyVoIP speak, no transcoding.
    dtmf_mode: str = "rfc4733"
    # Call-takers only: the web login whose console drives this softphone (queue login, pause,
    # screen-pop). Empty: the phone is in no console's hands.
    username: str = ""

    @property
    def interface(self) -> str:
        """How Asterisk names this phone as a queue member and in device state."""
        return f"PJSIP/{self.extension}"


@dataclass
class Category:
    """What a caller needs; decides the queue priority and which agency serves the call."""

    id: str
    name: str  # Indonesian, as call-takers and reports show it
    # Asterisk queue priority: higher is answered first; equal priorities in order of arrival.
    # Every caller joins the queue at 1 (telephony/dialplan.py JOIN_PRIORITY) before they press
    # anything: an emergency category ranks above that (2 or more), informasi below it (0).
    priority: int = 2
    # Non-emergency categories (informasi) never overflow to an agency.
    emergency: bool = True


def default_categories() -> dict[str, Category]:
    return {
        c.id: c
        for c in (
            Category("police", "Kepolisian (kejahatan, kecelakaan)", 2),
            Category("ambulance", "Ambulans dan kesehatan", 3),
            Category("electricity", "Listrik (PLN)", 2),
            Category("public-order", "Ketertiban umum (Satpol PP)", 2),
            Category("fire", "Kebakaran dan bencana", 3),
            Category("informasi", "Informasi (bukan darurat)", 0, emergency=False),
        )
    }


# The menu choice that means "let me talk to a person" rather than a category.
CALLTAKER = "calltaker"


def default_menu() -> dict[str, str]:
    return {
        "police": "1",
        "ambulance": "2",
        "electricity": "3",
        "public-order": "4",
        "fire": "5",
        "informasi": "9",
        CALLTAKER: "0",
    }


@dataclass
class IvrConfig:
    # Category id (or "calltaker") → the key that chooses it. The menu prompt must say the same.
    menu: dict[str, str] = field(default_factory=default_menu)
    # The waiting audio offers this code to a caller who cannot talk ("press 55" as in the UK).
    silent_key: str = "55"
    # Queue priority of a caller who pressed the silent key: they may be in danger.
    silent_priority: int = 4
    # Prompts (names in ivr-prompts/<lang>/) telling non-emergency callers where to go instead.
    information_prompts: list[str] = field(default_factory=lambda: ["informasi"])
    # Seconds a caller waits for a call-taker before the call overflows to the agency; 0: never.
    max_wait: int = 120
    # The agency that gets overflowing calls without a category (the caller chose none).
    default_agency: str = ""


@dataclass
class Agency:
    id: str
    name: str
    categories: list[str]
    # Dial strings: a PJSIP endpoint ("PJSIP/7001") or a number on a trunk ("PJSIP/110@telkom").
    primary: str
    backup: str = ""
    ring_timeout: int = 20
    # The agency loop's deadlines, in seconds from the assignment (routing/agency_loop.py), and
    # how long after a missed deadline's re-alert the supervisors' board is alerted.
    acknowledge_within: int = 120
    on_scene_within: int = 600
    cleared_within: int = 3600
    escalate_after: int = 60
    # Whether its desk phone is called about each assignment (the ticket read out, "press 1 to
    # accept, 2 to decline"), and again on a missed deadline. Off: it acknowledges on its page.
    callout: bool = True
    # Whether the agency's page shows the caller's number (off: the centre relays).
    show_caller_number: bool = False
    # Where each assignment and status change is posted as signed JSON; empty: no webhook.
    webhook_url: str = ""
    webhook_secret: str = ""  # env NGALAM_WEBHOOK_SECRET_<ID> (id upper-cased, - as _)

    @property
    def webhook_secret_env(self) -> str:
        return "NGALAM_WEBHOOK_SECRET_" + self.id.upper().replace("-", "_")

    def targets(self) -> list[str]:
        return [t for t in (self.primary, self.backup) if t]


@dataclass
class SpeechConfig:
    # A Vosk model directory (am/, conf/, graph/). Empty or missing: the IVR runs DTMF-only.
    model_path: str = ""
    # Longest recording transcribed after a call; longer audio is refused, not truncated silently.
    max_seconds: int = 4 * 3600


@dataclass
class PrankPolicyConfig:
    # Days each successive restriction of a number lasts; 0: until a supervisor lifts it. A
    # restriction never refuses a call: the caller hears `warning_prompt` and waits at `priority`.
    levels: list[int] = field(default_factory=lambda: [3, 30, 0])
    warning_prompt: str = "prank-warning"
    priority: int = 0
    # A number with this many prank tickets (flag or outcome) is shown on the board for review.
    review_after: int = 3


@dataclass
class CallbackConfig:
    # How Asterisk dials a caller back: a dial target with {number}. Development and tests ring
    # the SIP phone of that number; production goes out on the carrier trunk.
    dial: str = "PJSIP/{number}"
    # Abandoned calls of this many hours are on the callback list.
    window_hours: int = 24


@dataclass
class WebConfig:
    # The origin browsers reach the console at (scheme://host[:port]) when a reverse proxy stands
    # in front, e.g. "https://112.malangkota.go.id": pages of no other origin may change anything.
    # Empty: the origin the request itself names (http://<its Host header>).
    public_origin: str = ""
    # Session cookies travel over HTTPS only (`Secure`); also on when public_origin is https://.
    tls: bool = False
    # Behind one reverse proxy: the client's address is the last X-Forwarded-For entry (the one
    # that proxy added). Off: the connection's address (a client can write the header itself).
    trust_forwarded_for: bool = False
    # Wrong passwords tolerated for one login, and from one client address (a whole centre may
    # share one), before each next try must wait: login_first_delay seconds, doubling with each
    # further failure up to login_longest_delay. A right password clears its login's count.
    login_free_tries: int = 5
    login_free_tries_per_address: int = 20
    login_first_delay: float = 1.0
    login_longest_delay: float = 300.0

    @property
    def secure_cookies(self) -> bool:
        return self.tls or self.public_origin.startswith("https://")


@dataclass
class Config:
    source: str = "<defaults>"
    asterisk: AsteriskConfig = field(default_factory=AsteriskConfig)
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    calltakers: list[Phone] = field(default_factory=list)
    # SIP accounts in the public-caller context; in production callers arrive on a carrier trunk.
    test_callers: list[Phone] = field(default_factory=list)
    # Desk phones of agencies registered to this Asterisk (agencies on trunks need none).
    agency_phones: list[Phone] = field(default_factory=list)
    # Supervisors' softphones: they ring to listen in on (or whisper into, or barge into) a call.
    supervisor_phones: list[Phone] = field(default_factory=list)
    prompts_dir: str = ""  # default: the ivr-prompts/ shipped with the package checkout
    # The centre's local time (Kota Malang: WIB): "today" on the board, days and hours in reports.
    timezone: str = "Asia/Jakarta"
    ivr: IvrConfig = field(default_factory=IvrConfig)
    categories: dict[str, Category] = field(default_factory=default_categories)
    agencies: list[Agency] = field(default_factory=list)
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    prank_policy: PrankPolicyConfig = field(default_factory=PrankPolicyConfig)
    callbacks: CallbackConfig = field(default_factory=CallbackConfig)
    web: WebConfig = field(default_factory=WebConfig)

    def all_phones(self) -> list[Phone]:
        return [*self.calltakers, *self.test_callers, *self.agency_phones, *self.supervisor_phones]

    def supervisor_phone_of(self, username: str) -> Phone | None:
        """The softphone a supervisor's login listens in with, if any."""
        return next(
            (p for p in self.supervisor_phones if username and p.username == username), None
        )

    def agency(self, agency_id: str) -> Agency | None:
        return next((a for a in self.agencies if a.id == agency_id), None)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def calltaker_of(self, username: str) -> Phone | None:
        """The softphone a web login drives, if any."""
        return next((p for p in self.calltakers if username and p.username == username), None)

    def calltaker_at(self, interface: str) -> Phone | None:
        """The call-taker whose phone Asterisk names `interface` (e.g. PJSIP/2001)."""
        return next((p for p in self.calltakers if p.interface == interface), None)


# Channel technology and a plain resource: no dialplan functions, options or separators can ride in.
DIAL_TARGET_RE = re.compile(
    r"^(PJSIP|IAX2|DAHDI|Local)/[A-Za-z0-9_.+#*-]{1,64}(@[A-Za-z0-9_.-]{1,64})?$"
)

# Where an agency's webhook posts: http(s), a host, an optional port and path; no credentials in
# the URL (the secret signs the body instead) and no spaces or control characters.
WEBHOOK_URL_RE = re.compile(r"^https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?(/[!-~]{0,500})?$")
