"""Typed settings read from ``PIGEON_*`` environment variables.

Every setting is declared once in :data:`SETTINGS` with its parser, default and the text that
``docs/settings.md`` shows; a test keeps that page honest.  A bad value stops start-up with a
message that names the variable and what it accepts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class SettingsError(ValueError):
    """A ``PIGEON_*`` variable holds a value Pigeon cannot use."""


class Secret:
    """A string that never shows itself in ``repr``, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(text: str) -> timedelta:
    """``"90"``/``"90s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"250ms"`` → timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise SettingsError("expected a duration such as 30s, 5m, 2h or 1d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_optional_duration(text: str) -> timedelta | None:
    """A duration, or ``never``/``off`` for "not automatically"."""
    if text.strip().lower() in {"never", "off", "manual"}:
        return None
    return parse_duration(text)


def parse_choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise SettingsError(f"expected one of {', '.join(choices)}")
        return value

    return parse


def parse_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise SettingsError("expected a whole number") from None
        if not low <= value <= high:
            raise SettingsError(f"expected a number from {low} to {high}")
        return value

    return parse


_SIZE = re.compile(r"^\s*(\d+)\s*(k|ki|kib|kb|m|mi|mib|mb)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {None: 1, "k": 1024, "ki": 1024, "kib": 1024, "kb": 1024,
               "m": 1024 ** 2, "mi": 1024 ** 2, "mib": 1024 ** 2, "mb": 1024 ** 2}


def parse_size(low: int, high: int) -> Callable[[str], int]:
    """``"64KiB"``, ``"10MiB"``, ``"4096"`` → bytes (k and m count in 1024s), within bounds."""
    def parse(text: str) -> int:
        match = _SIZE.match(text)
        if not match:
            raise SettingsError("expected a size such as 64KiB or 10MiB")
        value = int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").lower() or None]
        if not low <= value <= high:
            raise SettingsError(f"expected a size from {low} to {high} bytes")
        return value

    return parse


def parse_positive_duration(text: str) -> timedelta:
    """A duration longer than zero."""
    value = parse_duration(text)
    if value <= timedelta(0):
        raise SettingsError("expected a duration longer than zero")
    return value


def parse_zone(text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError("expected an IANA time zone such as Asia/Shanghai") from None


def parse_optional_window(text: str) -> tuple[time, time] | None:
    value = text.strip()
    if value.lower() in {"off", "never", "none"}:
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        raise SettingsError("expected a window such as 20:00-08:00, or off") from None
    if start == end:
        raise SettingsError("the window starts and ends at the same time")
    return start, end


def parse_digits(text: str) -> str:
    value = text.strip()
    if not value.isdigit() or len(value) > 12:
        raise SettingsError("expected up to 12 digits")
    return value


_BASE_URL = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~\-/]*)?")


def parse_base_url(text: str) -> str:
    """``https://s.example.cn`` (a path allowed, no query): the text, without a trailing
    slash."""
    value = text.strip().rstrip("/")
    if not _BASE_URL.fullmatch(value):
        raise SettingsError("expected an http:// or https:// address such as "
                            "https://s.example.cn")
    return value


def parse_schedule(text: str) -> tuple[timedelta, ...]:
    """``"1m,5m,10m"`` → the waits before each retry; ``none`` → no retry."""
    value = text.strip()
    if value.lower() in {"none", "off", "never"}:
        return ()
    try:
        waits = tuple(parse_duration(part) for part in value.split(","))
    except SettingsError:
        raise SettingsError("expected comma-separated durations such as 1m,5m,10m, "
                            "or none") from None
    if any(wait <= timedelta(0) for wait in waits):
        raise SettingsError("every wait must be longer than zero")
    if len(waits) > 50:
        raise SettingsError("expected at most 50 retries")
    return waits


def parse_dates(text: str) -> frozenset[date]:
    days = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            days.add(date.fromisoformat(part))
        except ValueError:
            raise SettingsError(f"{part!r} is not a date like 2027-01-01") from None
    return frozenset(days)


def parse_database_url(text: str) -> str:
    value = text.strip()
    if not value.startswith(("sqlite://", "postgresql")):
        raise SettingsError("expected sqlite:///PATH or postgresql+psycopg://USER:PW@HOST/DB")
    if value.startswith("postgresql://") or value.startswith("postgres://"):
        # SQLAlchemy would pick psycopg2, which Pigeon does not ship; psycopg 3 is the driver.
        value = "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


def parse_listen_address(text: str) -> tuple[str, int] | None:
    """``"127.0.0.1:9464"``, ``"[::1]:9464"`` or ``":9464"`` (every address) → (host, port);
    ``off`` or nothing → None."""
    value = text.strip()
    if value.lower() in {"", "off", "none"}:
        return None
    host, _, port = value.rpartition(":")
    host = host.strip("[]")
    try:
        number = int(port)
    except ValueError:
        number = 0
    if not 1 <= number <= 65535:
        raise SettingsError("expected HOST:PORT such as 127.0.0.1:9464, or off")
    return host or "0.0.0.0", number


def parse_networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """``"10.0.0.0/8, 192.168.1.10"`` → networks (a bare address is a range of one)."""
    networks = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            networks.append(ip_network(part, strict=True))
        except ValueError:
            raise SettingsError(f"{part!r} is not an IP address or CIDR range such as "
                                "10.0.0.0/8 (comma-separated)") from None
    return tuple(networks)


@dataclass(frozen=True)
class Setting:
    env: str
    attr: str
    parse: Callable[[str], object]
    default: str | None
    doc: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("PIGEON_DATA_DIR", "data_dir", lambda t: Path(t).expanduser(), "./data",
            "Directory for the embedded SQLite database, the generated secret key and other state."),
    Setting("PIGEON_DATABASE_URL", "database_url", parse_database_url, None,
            "SQLAlchemy URL of the database. Default: SQLite file `pigeon.db` in the data directory. "
            "PostgreSQL: `postgresql+psycopg://user:password@host:5432/pigeon`."),
    Setting("PIGEON_HOST", "host", str, "127.0.0.1", "Address `pigeon serve` listens on."),
    Setting("PIGEON_PORT", "port", parse_int(1, 65535), "8080", "Port `pigeon serve` listens on."),
    Setting("PIGEON_SERVE_WORKERS", "serve_workers", parse_int(0, 256), "0",
            "How many API processes `pigeon serve` runs (`--workers` overrides); `0`: one per "
            "CPU core. With more than one, they share the port and the background workers run "
            "once, in the parent process."),
    # -- limits before work (docs/operators.md, "Security") --
    Setting("PIGEON_MAX_REQUEST_LINE", "max_request_line", parse_size(1024, 1024 ** 2), "64KiB",
            "Longest request line (method, path and query string) `pigeon serve` reads; longer "
            "is answered 414 and the connection closed. The official SDKs put every parameter "
            "but proof files and SendBatchSms' lists in the query string: a SendSms to 1,000 "
            "numbers takes about 15 KiB."),
    Setting("PIGEON_MAX_HEADER_BYTES", "max_header_bytes", parse_size(1024, 1024 ** 2), "32KiB",
            "Most bytes of header fields one request may send (the request line not counted); "
            "more is answered 431 and the connection closed, before anything is parsed."),
    Setting("PIGEON_MAX_HEADERS", "max_headers", parse_int(8, 10_000), "100",
            "Most header fields one request may send; more is answered 431."),
    Setting("PIGEON_HEADER_TIMEOUT", "header_timeout", parse_positive_duration, "10s",
            "How long a client may take to send a request's line and headers, counted from "
            "the connection's opening or the request's first byte; then the connection is "
            "closed (408)."),
    Setting("PIGEON_BODY_TIMEOUT", "body_timeout", parse_positive_duration, "60s",
            "How long a request's body may take to arrive in full, counted from the end of its "
            "headers; then the request is answered 408 and the connection closed."),
    Setting("PIGEON_KEEP_ALIVE_TIMEOUT", "keep_alive_timeout", parse_positive_duration, "5s",
            "How long an idle keep-alive connection stays open between requests."),
    Setting("PIGEON_MAX_CONNECTIONS", "max_connections", parse_int(1, 1_000_000), "1000",
            "Most open connections one API process holds; a connection past it is answered "
            "503 and closed at once. `pigeon serve --workers N` holds N times as many."),
    Setting("PIGEON_MAX_API_BODY", "max_api_body", parse_size(64 * 1024, 1024 ** 3), "10MiB",
            "Largest request body of the RPC endpoint (`/`). The largest legitimate one is "
            "AddSmsSign's proof files (each ≤ 2 MB, base64 in a form): the default holds three. "
            "A body declared larger is refused (`InvalidParameter`, HTTP 400) before a byte of "
            "it is read."),
    Setting("PIGEON_MAX_CONSOLE_BODY", "max_console_body", parse_size(64 * 1024, 1024 ** 3),
            "16MiB",
            "Largest request body of the web console (`/console`, `/ops`): a qualification "
            "form carries up to three proof files of 5 MB. Uploads to `/oss` have their own "
            "limit (one 5 MB file)."),
    Setting("PIGEON_BODY_MEMORY", "body_memory", parse_size(1024 ** 2, 64 * 1024 ** 3),
            "32MiB",
            "Most bytes of RPC request bodies one API process holds in memory at once (every "
            "body is read whole before its signature can be checked). A request that would "
            "pass it is answered `ServiceUnavailable` (HTTP 503, retryable) at once."),
    Setting("PIGEON_TIMEZONE", "timezone", parse_zone, "Asia/Shanghai",
            "Platform time zone: review hours, quiet hours, business days and dates shown in API "
            "answers are in this zone. Timestamps are stored in UTC."),
    Setting("PIGEON_REVIEW_MODE", "review_mode", parse_choice("manual", "rules", "realistic"), "rules",
            "`manual`: only operators decide reviews. `rules`: the automatic reviewer applies the "
            "documented content rules at once. `realistic`: the same rules, applied only inside "
            "review hours after `PIGEON_REVIEW_DELAY`."),
    Setting("PIGEON_REVIEW_DELAY", "review_delay", parse_duration, "2h",
            "In `realistic` review mode, how long after submission the automatic reviewer decides "
            "(then postponed into review hours, skipping public holidays)."),
    Setting("PIGEON_REVIEW_HOURS", "review_hours", str, "09:00-21:00",
            "Daily review window in platform time, `HH:MM-HH:MM`."),
    Setting("PIGEON_EXTRA_HOLIDAYS", "extra_holidays", parse_dates, "",
            "Comma-separated extra public holidays (`2027-01-01,2027-02-06`) on top of the bundled "
            "Chinese public-holiday calendar, e.g. for years it does not cover yet."),
    Setting("PIGEON_REGISTRATION_DELAY", "registration_delay", parse_optional_duration, "0s",
            "How long the simulated carriers take to complete a signature's carrier registration "
            "after approval. `never`: only operators complete it (`pigeon signature register`)."),
    Setting("PIGEON_SIGNATURE_WINDOW", "signature_window", parse_duration, "15m",
            "How far a request's timestamp may be from the server clock; each nonce is "
            "remembered until its request could no longer pass this check."),
    Setting("PIGEON_TRUSTED_PROXIES", "trusted_proxies", parse_networks, "",
            "Comma-separated addresses or CIDR ranges of reverse proxies in front of Pigeon. "
            "Only a request arriving from one of them has its `X-Forwarded-For` header read "
            "for the caller's address (the IP allow-list for API calls, SMS-pumping "
            "detection, the console's sign-in throttle); otherwise the TCP peer's address "
            "counts. Empty: no proxy is trusted."),
    Setting("PIGEON_QUIET_HOURS", "quiet_hours", parse_optional_window, "20:00-08:00",
            "Promotional messages are refused inside this daily window (platform time), "
            "`HH:MM-HH:MM`; `off` disables the rule."),
    Setting("PIGEON_ACCESS_CODE", "access_code", parse_digits, "1069",
            "The platform's sender number (access code); each signature's extension code and "
            "any SmsUpExtendCode are appended to it, and replies are routed back by them."),
    Setting("PIGEON_SHORT_URL_BASE", "short_url_base", parse_base_url, None,
            "How short URLs are written (AddShortUrl, CreateSmartShortUrl): this address, then "
            "`/s/<code>`; it must reach Pigeon's redirector (`GET /s/<code>`), e.g. a short "
            "domain proxied to Pigeon. Unset: the address the API call reached "
            "(`http://127.0.0.1:8080/s/<code>`; `https` behind a proxy that sends "
            "`X-Forwarded-Proto: https`)."),
    Setting("PIGEON_SIMULATOR_DELAY", "simulator_delay", parse_duration, "1s",
            "How long the carrier simulator takes to report delivery after submission (each "
            "receipt ±20 %; see docs/simulator.md)."),
    Setting("PIGEON_REPORT_RETRY_SCHEDULE", "report_retry_schedule", parse_schedule,
            "1m,5m,10m",
            "Waits between HTTP pushes of a report the tenant's endpoint did not acknowledge "
            "(after the first failure, then after each retry); after the last retry fails the "
            "report is kept as `failed`. The default is Alibaba's; a longer one such as "
            "`1m,5m,10m,30m,1h,1h,1h` rides out longer outages. `none`: no retry."),
    Setting("PIGEON_REPORT_TIMEOUT", "report_timeout", parse_duration, "5s",
            "How long a report push waits for the tenant's endpoint (connect, send, answer) "
            "before counting the attempt as failed."),
    Setting("PIGEON_REPORT_BATCH", "report_batch", parse_int(1, 1000), "100",
            "Most reports merged into one HTTP push (review reports are always pushed one "
            "per request)."),
    Setting("PIGEON_REPORT_CONCURRENCY", "report_concurrency", parse_int(1, 1000), "16",
            "How many tenant endpoints a report worker pushes to at once; one slow endpoint "
            "holds only its own slot."),
    Setting("PIGEON_REPORT_LEASE", "report_lease", parse_duration, "1m",
            "How long a report worker holds the reports it took for a push. After a crash, "
            "reports that were in flight are pushed again once this has passed (at least "
            "four times `PIGEON_REPORT_TIMEOUT`)."),
    Setting("PIGEON_PUSH_TARGETS", "push_targets", parse_choice("any", "public"), "any",
            "Where Pigeon may push on a tenant's behalf (report URLs, alert webhooks). `any`: "
            "every address, for development (reports to http://127.0.0.1). `public`: globally "
            "routable addresses only, checked on the address connected to after name "
            "resolution — use it wherever tenants are not the operator (see docs/operators.md)."),
    Setting("PIGEON_RETENTION", "retention", parse_duration, "30d",
            "How long finished report events, report push attempts and the virtual handsets' "
            "inboxes are kept; the report worker drops older ones every few minutes. Messages, "
            "the ledger and alerts are kept regardless."),
    Setting("PIGEON_ALERT_INTERVAL", "alert_interval", parse_duration, "1m",
            "How often the alert evaluator checks every tenant's alert rules and the platform "
            "(see docs/alerts.md)."),
    Setting("PIGEON_ALERT_QUIET_PERIOD", "alert_quiet_period", parse_duration, "1h",
            "Quiet period of rules added without `--quiet`, and of platform alerts: a new "
            "incident of the same rule and subject within it reopens the last alert instead "
            "of sending another."),
    Setting("PIGEON_ALERT_RETRY_SCHEDULE", "alert_retry_schedule", parse_schedule,
            "1m,5m,15m,1h",
            "Waits between attempts to deliver an alert notification that failed (mail server "
            "or webhook down); after the last retry fails it is kept as `failed`. `none`: no "
            "retry."),
    Setting("PIGEON_ALERT_TIMEOUT", "alert_timeout", parse_duration, "10s",
            "How long one notification (SMTP exchange, DingTalk or webhook request) may take "
            "before the attempt counts as failed."),
    Setting("PIGEON_ALERT_BACKLOG_AGE", "alert_backlog_age", parse_duration, "10m",
            "Platform alert \"queue backlog\": accepted messages still waiting to be sent "
            "after this long count as backlog."),
    Setting("PIGEON_ALERT_BACKLOG_MESSAGES", "alert_backlog_messages", parse_int(1, 10**9),
            "100", "Platform alert \"queue backlog\": how many messages of backlog raise it."),
    Setting("PIGEON_ALERT_REPORT_FAILURES", "alert_report_failures", parse_int(1, 10**9),
            "50", "Platform alert \"report pushes failing\": a tenant with this many reports "
            "failed for good or being retried raises it."),
    Setting("PIGEON_ALERT_CONNECTOR_GRACE", "alert_connector_grace", parse_duration, "2m",
            "Platform alert \"connector down\": how long an enabled connector must be seen "
            "down (or not run by any dispatcher) before operators are told."),
    Setting("PIGEON_ALERT_SMS_SIGNATURE", "alert_sms_signature", str, "Pigeon",
            "Signature (签名) of alert SMS, which Pigeon sends as its own platform account "
            "through the dispatcher and the routes like any message; register it with the "
            "carriers your connectors reach."),
    Setting("PIGEON_SMTP_HOST", "smtp_host", str, None,
            "Mail server for alert emails. Unset: email channels cannot deliver (each attempt "
            "is recorded as failed with that reason)."),
    Setting("PIGEON_SMTP_PORT", "smtp_port", parse_int(1, 65535), "587",
            "Port of the mail server."),
    Setting("PIGEON_SMTP_USER", "smtp_user", str, None,
            "User name for SMTP authentication; unset: no authentication."),
    Setting("PIGEON_SMTP_PASSWORD", "smtp_password", Secret, None,
            "Password for SMTP authentication.", secret=True),
    Setting("PIGEON_SMTP_FROM", "smtp_from", str, "pigeon@localhost",
            "Sender address of alert emails."),
    Setting("PIGEON_SMTP_TLS", "smtp_tls", parse_choice("starttls", "tls", "off"), "starttls",
            "`starttls`: upgrade the connection with STARTTLS (port 587); `tls`: TLS from the "
            "start (port 465); `off`: plain text (a local relay only)."),
    Setting("PIGEON_SECRET_KEY", "secret_key", Secret, None,
            "Key (urlsafe base64, 32 bytes, as made by `pigeon keygen`) that encrypts stored "
            "AccessKey secrets. Default: generated once into `secret.key` in the data directory.",
            secret=True),
    Setting("PIGEON_WORKERS", "workers", parse_choice("on", "off"), "on",
            "`off` runs the API without background workers (reviewer, registrar, dispatcher and "
            "carrier simulator, report pusher, alert evaluator, batch sender), for a "
            "deployment that runs them in a separate `pigeon worker` process."),
    Setting("PIGEON_LOG_LEVEL", "log_level", parse_choice("debug", "info", "warning", "error"), "info",
            "Log verbosity."),
    Setting("PIGEON_LOG_FORMAT", "log_format", parse_choice("text", "json"), "text",
            "`text`: one line per event for people. `json`: one JSON object per line (`time`, "
            "`level`, `logger`, `message`, the context such as `request_id`, `exception`) for "
            "log shippers (see docs/operations.md)."),
    Setting("PIGEON_METRICS_TOKEN", "metrics_token", Secret, None,
            "Bearer token that `GET /metrics` on the API port requires (`Authorization: Bearer "
            "<token>`). Unset: `/metrics` is not served on the API port (404) — set this, or "
            "`PIGEON_METRICS_ADDRESS`, to let Prometheus scrape.", secret=True),
    Setting("PIGEON_METRICS_ADDRESS", "metrics_address", parse_listen_address, "off",
            "A separate listen address (`HOST:PORT`, e.g. `10.0.0.5:9464` on a private "
            "interface) that serves the Prometheus metrics without a token, from `pigeon "
            "serve` and from `pigeon worker` (whose nodes have no API port). `off`: none."),
    Setting("PIGEON_AUDIT_RETENTION", "audit_retention", parse_optional_duration, "400d",
            "How long audit trail entries (every administrative change: docs/operations.md) "
            "are kept; older ones are dropped every few minutes, and the drop itself is "
            "recorded so that `pigeon audit verify` still checks the chain. `never`: keep "
            "them all."),
)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("./data")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    max_request_line: int = 64 * 1024
    max_header_bytes: int = 32 * 1024
    max_headers: int = 100
    header_timeout: timedelta = timedelta(seconds=10)
    body_timeout: timedelta = timedelta(seconds=60)
    keep_alive_timeout: timedelta = timedelta(seconds=5)
    max_connections: int = 1000
    max_api_body: int = 10 * 1024 * 1024
    max_console_body: int = 16 * 1024 * 1024
    body_memory: int = 32 * 1024 * 1024
    review_mode: str = "rules"
    review_delay: timedelta = timedelta(hours=2)
    review_hours: str = "09:00-21:00"
    extra_holidays: frozenset[date] = frozenset()
    registration_delay: timedelta | None = timedelta(0)
    signature_window: timedelta = timedelta(minutes=15)
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    quiet_hours: tuple[time, time] | None = (time(20), time(8))
    access_code: str = "1069"
    short_url_base: str | None = None
    simulator_delay: timedelta = timedelta(seconds=1)
    report_retry_schedule: tuple[timedelta, ...] = (
        timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=10))
    report_timeout: timedelta = timedelta(seconds=5)
    report_batch: int = 100
    report_concurrency: int = 16
    report_lease: timedelta = timedelta(minutes=1)
    retention: timedelta = timedelta(days=30)
    push_targets: str = "any"
    alert_interval: timedelta = timedelta(minutes=1)
    alert_quiet_period: timedelta = timedelta(hours=1)
    alert_retry_schedule: tuple[timedelta, ...] = (
        timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
    alert_timeout: timedelta = timedelta(seconds=10)
    alert_backlog_age: timedelta = timedelta(minutes=10)
    alert_backlog_messages: int = 100
    alert_report_failures: int = 50
    alert_connector_grace: timedelta = timedelta(minutes=2)
    alert_sms_signature: str = "Pigeon"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: Secret | None = None
    smtp_from: str = "pigeon@localhost"
    smtp_tls: str = "starttls"
    secret_key: Secret | None = None
    workers: str = "on"
    serve_workers: int = 0
    log_level: str = "info"
    log_format: str = "text"
    metrics_token: Secret | None = None
    metrics_address: tuple[str, int] | None = None
    audit_retention: timedelta | None = timedelta(days=400)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'pigeon.db').resolve()}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every ``PIGEON_*`` variable; raise :class:`SettingsError` naming the bad one."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for setting in SETTINGS:
            raw = environ.get(setting.env)
            if raw is None or (raw == "" and setting.default is None):
                if setting.default is None:
                    continue
                raw = setting.default
            try:
                values[setting.attr] = setting.parse(raw)
            except SettingsError as exc:
                shown = "********" if setting.secret else repr(raw)
                raise SettingsError(f"{setting.env}={shown}: {exc}") from None
        return cls(**values)  # type: ignore[arg-type]
