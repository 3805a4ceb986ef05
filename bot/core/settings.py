"""Settings: the one frozen object every process reads its configuration from.

Values come from the environment (and a `.env` file at the project root, which never overrides
a variable that is already set). Names and defaults follow the product's interface contract
(docs/contract.md, a copy of the shared spec); every variable, including those the project adds,
is documented in the README's configuration table.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("DALIL_HOME") or Path(__file__).resolve().parents[2])


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message says which and how to fix it."""


def _read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def _ids(name: str, raw: str) -> frozenset[int]:
    out: set[int] = set()
    for part in raw.replace(";", ",").replace(" ", ",").split(","):
        if not part:
            continue
        try:
            out.add(int(part))
        except ValueError as exc:
            raise SettingsError(f"{name} must be a comma-separated list of Telegram ids, got {part!r}") from exc
    return frozenset(out)


def _int(name: str, raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from exc


def _float(name: str, raw: str | None, default: float) -> float:
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Everything configurable, read once per process."""

    root: Path = PROJECT_ROOT
    var_dir: Path = PROJECT_ROOT / "var"
    telegram_bot_token: str | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_file_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    hotline_chat_id: int | None = None
    hotline_staff_ids: frozenset[int] = frozenset()
    admin_user_ids: frozenset[int] = frozenset()
    roles_file: Path = PROJECT_ROOT / "var" / "roles.yml"  # viewers and editors, re-read on change (ROLES_FILE)
    events_url: str | None = None
    events_ttl: float = 300.0
    alerts_interval: float = 900.0  # seconds between two looks at the feeds for new events (ALERTS_INTERVAL)
    alerts_quiet_hours: str | None = None  # "21:00-08:00" or "off"; None: content/alerts.yml (ALERTS_QUIET_HOURS)
    database_url: str = ""
    tracker_url: str = ""
    redis_url: str | None = None
    rasa_host: str = "127.0.0.1"
    rasa_port: int = 5005
    action_port: int = 5055
    action_endpoint: str = ""
    rasa_token: str = ""
    action_token: str = ""
    secret_key: str = ""
    retention_days: int = 30
    operator: str | None = None  # who runs the service, as the `about` answer names it (DALIL_OPERATOR)
    rasa_timeout: float = 30.0
    ack_after: float = 4.0
    typing_after: float = 0.5
    health_port: int = 5056
    flood_burst: int = 8
    flood_window: float = 10.0
    flood_pace: float = 1.5
    telegram_max_rate: float = 30.0
    telegram_group_rate: float = 20.0
    log_level: str = "INFO"
    uvloop: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        return f"http://{self.rasa_host}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return self.action_endpoint or f"http://127.0.0.1:{self.action_port}/webhook"

    @property
    def terminal_mode(self) -> bool:
        return not self.telegram_bot_token

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, root: Path | None = None) -> Settings:
        """Read the settings from `env` (default: os.environ) on top of the project's `.env`."""
        root = root or PROJECT_ROOT
        merged = _read_dotenv(root / ".env")
        merged.update(os.environ if env is None else env)
        var_dir = Path(merged.get("DALIL_VAR_DIR") or root / "var")
        # Tokens `dalil run` generated for this run, so `dalil status` / `dalil faq publish`
        # from another shell can reach the running servers; the environment still wins.
        run_env = _read_dotenv(var_dir / "run.env")
        merged = {**run_env, **merged}
        get = merged.get
        database_url = get("DATABASE_URL") or f"sqlite:///{var_dir / 'dalil.db'}"
        hotline = get("HOTLINE_CHAT_ID")
        return cls(
            root=root,
            var_dir=var_dir,
            telegram_bot_token=get("TELEGRAM_BOT_TOKEN") or None,
            telegram_api_url=get("TELEGRAM_API_URL") or "https://api.telegram.org/bot",
            telegram_file_url=get("TELEGRAM_FILE_URL") or None,
            webhook_url=get("TELEGRAM_WEBHOOK_URL") or None,
            webhook_secret=get("TELEGRAM_WEBHOOK_SECRET") or None,
            webhook_listen=get("WEBHOOK_LISTEN") or "127.0.0.1",
            webhook_port=_int("WEBHOOK_PORT", get("WEBHOOK_PORT"), 8443),
            hotline_chat_id=_int("HOTLINE_CHAT_ID", hotline, 0) or None,
            hotline_staff_ids=_ids("HOTLINE_STAFF_IDS", get("HOTLINE_STAFF_IDS", "")),
            admin_user_ids=_ids("ADMIN_USER_IDS", get("ADMIN_USER_IDS", "")),
            roles_file=root / (get("ROLES_FILE") or var_dir / "roles.yml"),
            events_url=get("EVENTS_URL") or None,
            events_ttl=_float("EVENTS_TTL", get("EVENTS_TTL"), 300.0),
            alerts_interval=_float("ALERTS_INTERVAL", get("ALERTS_INTERVAL"), 900.0),
            alerts_quiet_hours=get("ALERTS_QUIET_HOURS") or None,
            database_url=database_url,
            tracker_url=get("TRACKER_DATABASE_URL") or "",
            redis_url=get("REDIS_URL") or None,
            rasa_host=get("RASA_HOST") or "127.0.0.1",
            rasa_port=_int("RASA_PORT", get("RASA_PORT"), 5005),
            action_port=_int("ACTION_PORT", get("ACTION_PORT"), 5055),
            action_endpoint=get("ACTION_URL") or "",
            rasa_token=get("RASA_TOKEN") or "",
            action_token=get("ACTION_TOKEN") or "",
            secret_key=get("DALIL_SECRET_KEY") or "",
            retention_days=_int("RETENTION_DAYS", get("RETENTION_DAYS"), 30),
            operator=get("DALIL_OPERATOR") or None,
            rasa_timeout=_float("RASA_TIMEOUT", get("RASA_TIMEOUT"), 30.0),
            ack_after=_float("ACK_AFTER", get("ACK_AFTER"), 4.0),
            typing_after=_float("TYPING_AFTER", get("TYPING_AFTER"), 0.5),
            health_port=_int("HEALTH_PORT", get("HEALTH_PORT"), 5056),
            flood_burst=_int("FLOOD_BURST", get("FLOOD_BURST"), 8),
            flood_window=_float("FLOOD_WINDOW", get("FLOOD_WINDOW"), 10.0),
            flood_pace=_float("FLOOD_PACE", get("FLOOD_PACE"), 1.5),
            telegram_max_rate=_float("TELEGRAM_MAX_RATE", get("TELEGRAM_MAX_RATE"), 30.0),
            telegram_group_rate=_float("TELEGRAM_GROUP_RATE", get("TELEGRAM_GROUP_RATE"), 20.0),
            log_level=(get("LOG_LEVEL") or "INFO").upper(),
            uvloop=(get("GATEWAY_UVLOOP") or "1").strip().lower() not in ("0", "false", "no", "off"),
            extra={k: v for k, v in merged.items() if k.startswith("DALIL_")},
        )

    def validate(self) -> None:
        """Fail fast, with a sentence saying what to fix."""
        if self.webhook_url and not self.webhook_url.startswith("https://"):
            raise SettingsError("TELEGRAM_WEBHOOK_URL must be a public https:// URL")
        if self.webhook_url and not self.webhook_secret:
            raise SettingsError("TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_WEBHOOK_URL")
        if self.retention_days < 1:
            raise SettingsError("RETENTION_DAYS must be at least 1")


def ensure_secret(settings: Settings, name: str = "secret_key") -> str:
    """Return a stable secret: from the environment, else from `var/secret`, created once."""
    value = getattr(settings, name)
    if isinstance(value, str) and value:
        return value
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    path = settings.var_dir / name.replace("_", "-")
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    token = secrets.token_urlsafe(32)
    path.write_text(token, encoding="utf-8")
    path.chmod(0o600)
    return token
