"""`callcenter` command line: run the centre, render Asterisk's config, manage the database and users."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from . import config as config_mod
from .config import Config, ConfigError
from .telephony.asterisk import PROMPTS_DIR, render_config
from .tickets.db import Database, create_engine
from .tickets.migrations import migrate
from .web.access import Role
from .web.accounts import Accounts
from .web.auth import hash_password

log = logging.getLogger("callcenter")


def _load(args: argparse.Namespace) -> Config:
    path = args.config or os.environ.get("CALLCENTER_CONFIG")
    return config_mod.load(path)


async def _with_accounts(config: Config, work):  # type: ignore[no-untyped-def]
    """Migrate the database to the newest schema, then do `work` with its logins."""
    engine = create_engine(config.database.url)
    try:
        await migrate(engine)
        return await work(Accounts(Database(engine)))
    finally:
        await engine.dispose()


def cmd_run(args: argparse.Namespace) -> int:
    from .app import run

    config = _load(args)

    def ready(centre) -> None:  # type: ignore[no-untyped-def]
        if args.local_asterisk:
            print(_welcome(config), flush=True)

    asyncio.run(run(config, local_asterisk=args.local_asterisk, ready=ready))
    return 0


def _welcome(config: Config) -> str:
    a, c = config.asterisk, config.controller
    lines = [
        "",
        "Ngalam 112 is running.",
        f"  Console:      http://{c.http_bind}:{c.http_port}/console  (health: /healthz)",
    ]
    lines.append(f"  SIP server:   {a.bind}:{a.sip_port} (UDP), codecs u-law/a-law")
    for phone in config.test_callers:
        lines.append(f"  Test caller:  user {phone.extension}  password {phone.secret}  → dial 112")
    for phone in config.calltakers:
        console = f", console login {phone.username}" if phone.username else ""
        lines.append(
            f"  Call-taker:   user {phone.extension}  password {phone.secret}  "
            f"({phone.name}{console})"
        )
    for phone in config.supervisor_phones:
        lines.append(
            f"  Supervisor:   user {phone.extension}  password {phone.secret}  "
            f"({phone.name}, board login {phone.username})"
        )
    for phone in config.agency_phones:
        lines.append(
            f"  Agency desk:  user {phone.extension}  password {phone.secret}  ({phone.name})"
        )
    lines.append(
        "  Ctrl-C stops Asterisk and the controller; a controller that crashes leaves Asterisk"
        " taking calls, for the next run to adopt."
    )
    return "\n".join(lines)


def cmd_render_config(args: argparse.Namespace) -> int:
    config = _load(args)
    paths = render_config(config, Path(args.out) if args.out else None)
    print(Path(args.out) if args.out else paths.etc)
    return 0


def cmd_init_db(args: argparse.Namespace) -> int:
    config = _load(args)

    async def nothing(_accounts: Accounts) -> None:
        return None

    asyncio.run(_with_accounts(config, nothing))
    print("database is at the newest schema")
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    config = _load(args)
    if not config_mod.USERNAME_RE.fullmatch(args.username):
        raise SystemExit("create-user: the username may have letters, digits and . _ @ - (1-64)")
    if args.role == Role.AGENCY and config.agency(args.agency or "") is None:
        known = ", ".join(a.id for a in config.agencies) or "none configured"
        raise SystemExit(f"create-user: the agency role needs --agency, one of: {known}")
    if args.role != Role.AGENCY and args.agency:
        raise SystemExit("create-user: --agency is only for the agency role")
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password (empty: generate one): ")
    else:
        password = ""
    generated = not password
    if generated:
        password = secrets.token_urlsafe(12)
    if len(password) < 10:
        raise SystemExit("create-user: password shorter than 10 characters")

    async def work(accounts: Accounts) -> None:
        if await accounts.user_by_name(args.username) is not None:
            if not args.reset:
                raise SystemExit(f"create-user: {args.username} exists (use --reset to change it)")
            await accounts.set_password(args.username, hash_password(password))
        else:
            await accounts.add_user(args.username, hash_password(password), args.role, args.agency)

    asyncio.run(_with_accounts(config, work))
    print(f"user {args.username} ({args.role})" + (f" password: {password}" if generated else ""))
    return 0


def cmd_dev_setup(args: argparse.Namespace) -> int:
    """A local centre for development: config with fresh random secrets, and an admin login.

    Nothing here is deployable: the secrets are generated on this machine, kept out of git.
    """
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "callcenter.toml"
    if not config_path.exists():
        config_path.write_text(_dev_config(directory))
        config_path.chmod(0o600)
    config = config_mod.load(config_path)
    logins_file = directory / "logins"

    async def work(accounts: Accounts) -> None:
        """Each development login exists, with the password in `logins` (made anew if lost)."""
        known = _read_logins(logins_file)
        lines = []
        for username, role, agency in DEV_LOGINS:
            password = known.get(username)
            if password is None or await accounts.user_by_name(username) is None:
                password = secrets.token_urlsafe(12)
                if not await accounts.set_password(username, hash_password(password)):
                    await accounts.add_user(username, hash_password(password), role, agency)
            lines.append(f"{role:11s} {username:10s} {password}")
        logins_file.write_text("\n".join(lines) + "\n")
        logins_file.chmod(0o600)

    asyncio.run(_with_accounts(config, work))
    print(config_path)
    return 0


# Development logins: the two call-takers drive the softphones 2001 and 2002 (see _dev_config);
# each development agency has an officer's login for its /agency page (e.g. `polresta`).
DEV_LOGINS: tuple[tuple[str, Role, str | None], ...] = (
    ("admin", Role.ADMIN, None),
    ("petugas1", Role.CALLTAKER, None),
    ("petugas2", Role.CALLTAKER, None),
    ("penyelia", Role.SUPERVISOR, None),
)


def _read_logins(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    logins = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            logins[parts[1]] = parts[2]
    return logins


def _dev_config(directory: Path) -> str:
    def secret() -> str:
        return secrets.token_urlsafe(18)

    db = (directory / "callcenter.db").resolve()
    return f"""# Local development centre, written by `callcenter dev-setup`. Secrets are random and local.
[asterisk]
instance = "dev"
ami_secret = "{secret()}"
ami_port = 5038
sip_port = 5060

[database]
url = "sqlite+aiosqlite:///{db}"

[[calltakers]]
extension = "2001"
name = "Petugas 1"
username = "petugas1"
secret = "{secret()}"

[[calltakers]]
extension = "2002"
name = "Petugas 2"
username = "petugas2"
secret = "{secret()}"

[[supervisor_phones]]
extension = "2009"
name = "Penyelia"
username = "penyelia"
secret = "{secret()}"

[[test_callers]]
extension = "9001"
name = "Penelepon Uji"
secret = "{secret()}"

[ivr]
default_agency = "polresta"
{_dev_agencies(secret)}"""


# Every emergency category needs an agency before the centre starts; in development each agency
# is a desk phone registered here (70xx), so a softphone can play the agency.
DEV_AGENCIES = (
    ("polresta", "Polresta Malang Kota", "police", "7001"),
    ("pmi", "PMI Kota Malang", "ambulance", "7002"),
    ("pln", "PLN UP3 Malang", "electricity", "7003"),
    ("satpolpp", "Satpol PP Kota Malang", "public-order", "7004"),
    ("bpbd", "BPBD Kota Malang (Damkar)", "fire", "7005"),
)
DEV_LOGINS += tuple((agency_id, Role.AGENCY, agency_id) for agency_id, *_ in DEV_AGENCIES)


def _dev_agencies(secret: Callable[[], str]) -> str:
    parts = []
    for agency_id, name, category, extension in DEV_AGENCIES:
        parts.append(
            f'\n[[agencies]]\nid = "{agency_id}"\nname = "{name}"\n'
            f'categories = ["{category}"]\nprimary = "PJSIP/{extension}"\n'
            f'\n[[agency_phones]]\nextension = "{extension}"\nname = "{name}"\n'
            f'secret = "{secret()}"\n'
        )
    return "".join(parts)


def cmd_transcribe(args: argparse.Namespace) -> int:
    """Transcribe audio files (anything ffmpeg reads) with the configured Vosk model."""
    import json

    from tqdm import tqdm

    from .speech.model import SpeechUnavailable, load_model
    from .speech.transcribe import AudioError, read_audio, transcribe_pcm

    config = _load(args)
    model = load_model(args.model or config.speech.model_path)
    if isinstance(model, SpeechUnavailable):
        print(f"callcenter transcribe: {model}", file=sys.stderr)
        return 2
    failed = 0
    for name in args.files:
        try:
            pcm = read_audio(Path(name), model.sample_rate, config.speech.max_seconds)
        except AudioError as e:
            print(f"callcenter transcribe: {e}", file=sys.stderr)
            failed += 1
            continue
        seconds = len(pcm) / 2 / model.sample_rate
        with tqdm(total=round(seconds, 1), unit="s", desc=Path(name).name, leave=False) as bar:
            transcript = transcribe_pcm(model, pcm, progress=bar.update)
        if args.json:
            print(json.dumps({"file": name, **transcript.as_json()}, ensure_ascii=False))
        else:
            print(f"{name}: {transcript.text}")
    return 1 if failed else 0


def cmd_prompts_build(args: argparse.Namespace) -> int:
    from .ivr.prompts import build

    lang_dir = Path(args.dir) if args.dir else PROMPTS_DIR / "id"
    for path in build(lang_dir, args.voice, only_missing=args.missing):
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callcenter", description=__doc__)
    parser.add_argument("-c", "--config", help="callcenter.toml (default: $CALLCENTER_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the controller (AMI, FastAGI, web)")
    p.add_argument(
        "--local-asterisk",
        action="store_true",
        help="also render config and run Asterisk (development): restarted when it dies, left "
        "running if the controller crashes and adopted by the next run, stopped by Ctrl-C",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("render-config", help="write Asterisk's configuration from callcenter.toml")
    p.add_argument("--out", help="directory (default: the instance's etc/)")
    p.set_defaults(func=cmd_render_config)

    p = sub.add_parser("init-db", help="create or upgrade the database schema")
    p.set_defaults(func=cmd_init_db)

    p = sub.add_parser("create-user", help="add a user who may log in to the web console and API")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--agency", help="for the agency role: the agency's id")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--reset", action="store_true", help="change the password of an existing user")
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("dev-setup", help="write a local development config with random secrets")
    p.add_argument("--dir", default="var/dev")
    p.set_defaults(func=cmd_dev_setup)

    p = sub.add_parser("prompts", help="IVR prompts")
    psub = p.add_subparsers(dest="prompts_command", required=True)
    pb = psub.add_parser("build", help="synthesise prompts.txt into 8 kHz WAVs with espeak-ng")
    pb.add_argument("--dir", help="language directory (default: ivr-prompts/id)")
    pb.add_argument("--voice", default="id")
    pb.add_argument("--missing", action="store_true", help="only prompts without a WAV yet")
    pb.set_defaults(func=cmd_prompts_build)

    p = sub.add_parser("transcribe", help="transcribe audio files with the Vosk model")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--model", help="Vosk model directory (default: speech.model_path)")
    p.add_argument("--json", action="store_true", help="one JSON line per file, with word timings")
    p.set_defaults(func=cmd_transcribe)

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("panoramisk").setLevel(logging.WARNING)
    try:
        result: int = args.func(args)
        return result
    except ConfigError as e:
        print(f"callcenter: configuration error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
