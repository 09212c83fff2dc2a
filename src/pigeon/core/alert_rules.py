"""Alert rules: what each kind watches, its parameters, when it fires, and incidents.

Pure: the service counts (messages in a window, balances, packages, OTP sends grouped by number
range, country and caller IP …) and passes the figures and ``now``; the functions here decide.

Rule kinds (``docs/alerts.md`` has the operator's view):

``balance``       the account's balance is below ``below`` CNY.
``package``       the quota left in the account's unexpired resource packages is below ``below``.
``volume``        more than ``above`` messages were accepted in the last hour or day (``per``).
``spike``         the last ``window`` saw at least ``factor`` times the messages of an average
                  ``window`` over the preceding ``baseline`` (and at least ``min`` messages).
``success_rate``  of the messages accepted in the last ``window`` that reached a final status
                  (at least ``min``), fewer than ``below`` percent were delivered.
``otp_pumping``   SMS pumping (:mod:`pigeon.core.pumping`): OTP sends to many numbers of one
                  number range or of one foreign country, one caller IP fanning out, or many
                  numbers that never come back after their OTP.

One incident is one alert and one resolve (:func:`plan_incidents`): a rule's finding opens an
incident under its ``subject`` (``balance``, ``range:1380013`` …); while the finding holds nothing
more is sent; once it is gone the incident is resolved, and told so once it has stayed clear for
the rule's settle period (:func:`settle_seconds`); a finding within the settle period, or within
the rule's quiet period of the last alert, reopens that alert instead of sending another.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pigeon.core import pricing
from pigeon.core.errors import PigeonError

KINDS = ("balance", "package", "volume", "spike", "success_rate", "otp_pumping")
PLATFORM_KINDS = ("connector_down", "queue_backlog", "report_failures")
PROTECTION_KINDS = ("range", "country", "throttle")
MAINLAND = 86


def _invalid(message: str) -> PigeonError:
    return PigeonError("isv.INVALID_PARAMETERS", message)


# -- parameters -------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(text: str | int | float) -> int:
    """``"90s"``, ``"5m"``, ``"2h"``, ``"1d"`` (or a number of seconds) → whole seconds ≥ 1."""
    if isinstance(text, bool):
        raise ValueError("expected a duration such as 30s, 5m, 2h or 1d")
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        match = _DURATION.match(text)
        if not match:
            raise ValueError("expected a duration such as 30s, 5m, 2h or 1d")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not 1 <= seconds <= 366 * 86400:
        raise ValueError("expected a duration from 1s to 366d")
    return int(seconds)


def format_duration(seconds: int) -> str:
    """The shortest exact form: 3600 → ``1h``, 90 → ``90s``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _optional_duration(text: str | int | float | None) -> int | None:
    if text is None or (isinstance(text, str) and text.strip().lower() in {"never", "off", ""}):
        return None
    return parse_duration(text)


def _number(kind: type, low: float, high: float) -> Callable[[object], int | float]:
    def parse(value: object) -> int | float:
        if isinstance(value, bool):
            raise ValueError(f"expected a number from {low:g} to {high:g}")
        try:
            number = kind(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number from {low:g} to {high:g}") from None
        if isinstance(number, float) and not math.isfinite(number):
            raise ValueError(f"expected a number from {low:g} to {high:g}")
        if kind is int and isinstance(value, float) and value != number:
            raise ValueError("expected a whole number")
        if not low <= number <= high:
            raise ValueError(f"expected a number from {low:g} to {high:g}")
        return number

    return parse


def _cny(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # stored: already milli-CNY
    if not isinstance(value, str):
        raise ValueError("expected an amount in CNY such as 100 or 12.5")
    return pricing.parse_cny(value)


def _choice(*choices: str) -> Callable[[object], str]:
    def parse(value: object) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return text

    return parse


def _off_or(parse: Callable[[object], object]) -> Callable[[object], object]:
    """``parse``, or None for ``off`` (a detection that is not wanted)."""

    def parse_or_off(value: object) -> object:
        if value is None or (isinstance(value, str) and value.strip().lower() == "off"):
            return None
        return parse(value)

    return parse_or_off


def _show_off(value: object) -> str:
    return "off" if value is None else str(value)


def _switch(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"on", "true", "yes", "1"}:
        return True
    if text in {"off", "false", "no", "0"}:
        return False
    raise ValueError("expected on or off")


REQUIRED = object()


@dataclass(frozen=True)
class Param:
    name: str
    parse: Callable[[object], object]
    default: object  # in stored form; REQUIRED: the rule needs it given
    doc: str
    show: Callable[[object], str] = str


def _duration_param(name: str, default: int | None, doc: str) -> Param:
    return Param(name, parse_duration, default, doc, format_duration)


PARAMS: dict[str, tuple[Param, ...]] = {
    "balance": (
        Param("below", _cny, REQUIRED, "alert when the balance is below this many CNY",
              lambda v: pricing.format_cny(v)),
    ),
    "package": (
        Param("below", _number(int, 0, 10**9), REQUIRED,
              "alert when the messages left in unexpired packages are below this"),
    ),
    "volume": (
        Param("above", _number(int, 1, 10**9), REQUIRED,
              "alert when more messages than this were accepted per `per`"),
        Param("per", _choice("hour", "day"), "day", "hour or day (rolling)"),
    ),
    "spike": (
        _duration_param("window", 300, "the recent window that is compared"),
        _duration_param("baseline", 7200, "the period before it that is the baseline"),
        Param("factor", _number(float, 1.1, 1000), 3.0,
              "how many times the baseline's average window is a spike"),
        Param("min", _number(int, 1, 10**9), 100, "fewer messages than this never are one"),
    ),
    "success_rate": (
        Param("below", _number(float, 0.1, 100), 80.0, "alert below this percentage delivered"),
        _duration_param("window", 3600, "messages accepted in this window are counted"),
        Param("min", _number(int, 1, 10**9), 50,
              "at least this many must have a final status"),
    ),
    "otp_pumping": (
        _duration_param("window", 600, "OTP sends in this window are looked at"),
        Param("prefix", _number(int, 3, 10), 7, "digits of a mainland number range"),
        Param("range_numbers", _number(int, 2, 10**6), 20,
              "distinct numbers of one range that make a burst"),
        Param("country_numbers", _number(int, 2, 10**6), 20,
              "distinct numbers of one foreign country that make a burst"),
        Param("ip_numbers", _off_or(_number(int, 2, 10**7)), None,
              "distinct numbers one caller IP may reach in the window (off by default: "
              "the tenant's own servers make every call)", _show_off),
        Param("unverified_numbers", _off_or(_number(int, 2, 10**7)), None,
              "numbers that never came back after their OTP (see follow_up; off by "
              "default)", _show_off),
        Param("unverified_ratio", _number(float, 0.01, 1.0), 0.9,
              "… and at least this share of the window's OTP numbers"),
        _duration_param("follow_up", 1800,
                        "a number with no other message within this after its OTP never "
                        "came back"),
        Param("protect", _switch, False, "on: block the range/country, or throttle OTP",
              lambda v: "on" if v else "off"),
        Param("throttle", _number(int, 1, 10**6), 10,
              "OTP messages per minute for the account while throttled"),
        Param("protect_for", _optional_duration, 86400,
              "how long a protection lasts unless lifted earlier (never: until lifted)",
              lambda v: "never" if v is None else format_duration(v)),
    ),
}


def parse_params(kind: str, given: Mapping[str, object]) -> dict:
    """The stored parameters of a rule of ``kind``: ``given`` (text from the CLI, or stored
    values) checked and completed with the defaults; a coded error names what is wrong."""
    if kind not in PARAMS:
        raise _invalid(f"A rule kind is one of {', '.join(KINDS)}, got {kind!r}.")
    known = {p.name: p for p in PARAMS[kind]}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise _invalid(f"A {kind} rule has no parameter {unknown[0]!r}; it takes "
                       f"{', '.join(known)}.")
    stored: dict = {}
    for name, param in known.items():
        if name in given:
            try:
                stored[name] = param.parse(given[name])
            except ValueError as exc:
                raise _invalid(f"{kind} {name}={given[name]!r}: {exc}.") from None
        elif param.default is REQUIRED:
            raise _invalid(f"A {kind} rule needs {name}= ({param.doc}).")
        else:
            stored[name] = param.default
    if kind == "spike" and stored["baseline"] < 2 * stored["window"]:
        raise _invalid("spike baseline must be at least twice its window.")
    return stored


def show_params(kind: str, stored: Mapping[str, object]) -> dict[str, str]:
    """Stored parameters as people write them (``{"window": "10m", "below": "100.000"}``)."""
    return {p.name: p.show(stored[p.name]) for p in PARAMS[kind] if p.name in stored}


# -- findings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProtectionPlan:
    """A protection a finding asks for: block OTP to a ``range`` or ``country``, or
    ``throttle`` the account's OTP to ``limit`` a minute; ``expires_at`` None: until lifted."""

    kind: str
    scope: str | None
    limit: int | None
    expires_at: datetime | None


@dataclass(frozen=True)
class Finding:
    """What a rule saw: ``subject`` names the incident (one open alert per subject)."""

    kind: str
    subject: str
    title: str
    text: str
    figures: dict = field(default_factory=dict)
    protect: ProtectionPlan | None = None


def balance_finding(balance_milli: int, below_milli: int) -> Finding | None:
    if balance_milli >= below_milli:
        return None
    return Finding("balance", "balance", "Balance low",
                   f"The balance is {pricing.format_cny(balance_milli)} CNY, below the "
                   f"threshold of {pricing.format_cny(below_milli)} CNY.",
                   {"balance": pricing.format_cny(balance_milli),
                    "threshold": pricing.format_cny(below_milli)})


@dataclass(frozen=True)
class PackageLeft:
    id: int
    kind: str
    remaining: int
    total: int
    expires_at: datetime


def package_finding(packages: Iterable[PackageLeft], below: int, now: datetime) -> Finding | None:
    """The quota left in unexpired packages is below ``below``; an account without an unexpired
    package has nothing to run out of (the balance rule watches the money)."""
    live = [p for p in packages if p.expires_at > now]
    if not live:
        return None
    left = sum(p.remaining for p in live)
    if left >= below:
        return None
    return Finding("package", "packages", "Resource package quota low",
                   f"{left} messages are left in {len(live)} resource package(s), below the "
                   f"threshold of {below}.",
                   {"remaining": left, "threshold": below, "packages": [
                       {"id": p.id, "type": p.kind, "remaining": p.remaining, "total": p.total}
                       for p in live]})


def volume_finding(count: int, above: int, per: str) -> Finding | None:
    if count <= above:
        return None
    return Finding("volume", f"volume:{per}", "Message volume high",
                   f"{count} messages were accepted in the last {per}, above the threshold "
                   f"of {above}.", {"messages": count, "threshold": above, "per": per})


def spike_finding(current: int, baseline_count: int, *, window: int, baseline: int,
                  factor: float, minimum: int) -> Finding | None:
    """``current`` messages in the last ``window`` seconds against ``baseline_count`` in the
    ``baseline`` seconds before it.  An empty baseline counts as one message per window, so a
    brand-new account's first burst of ``minimum`` is a spike only with ``factor`` ≤ minimum."""
    expected = baseline_count * window / baseline
    if current < minimum or current < factor * max(expected, 1.0):
        return None
    return Finding("spike", "spike", "Sending frequency spike",
                   f"{current} messages in the last {format_duration(window)}, "
                   f"{current / max(expected, 1.0):.1f}× the average of "
                   f"{expected:.1f} over the previous {format_duration(baseline)}.",
                   {"messages": current, "baseline_average": round(expected, 2),
                    "factor": factor, "window": format_duration(window)})


def success_finding(delivered: int, failed: int, *, below: float,
                    minimum: int) -> Finding | None:
    final = delivered + failed
    if final < minimum or final == 0:
        return None
    rate = 100.0 * delivered / final
    if rate >= below:
        return None
    return Finding("success_rate", "success_rate", "Delivery success rate low",
                   f"{rate:.1f}% of {final} messages were delivered ({failed} failed), below "
                   f"the threshold of {below:g}%.",
                   {"delivered": delivered, "failed": failed, "rate": round(rate, 2),
                    "threshold": below})


# -- incidents --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Incident:
    """The latest alert of one subject: open (``resolved``) or not, when it fired, and when it
    was resolved."""

    alert_id: int
    fired_at: datetime
    resolved: bool
    resolved_at: datetime | None = None


SETTLING_KINDS = ("spike", "success_rate", "otp_pumping")


def settle_seconds(kind: str, params: Mapping[str, object]) -> int:
    """How long a rule's incident must stay clear before its resolution is told: the rule's
    evaluation ``window`` for the kinds that judge a window of traffic (a quiet minute inside
    an attack is not its end); none for a balance, packages or a volume count."""
    if kind in SETTLING_KINDS:
        return int(params.get("window") or 0)
    return 0


@dataclass
class IncidentPlan:
    fire: list[Finding] = field(default_factory=list)  # new alerts: notify
    ongoing: list[tuple[int, Finding]] = field(default_factory=list)  # open already: update
    reopen: list[tuple[int, Finding]] = field(default_factory=list)  # within the quiet period
    resolve: list[int] = field(default_factory=list)  # alerts whose finding is gone


def plan_incidents(findings: Iterable[Finding], latest: Mapping[str, Incident],
                   quiet: timedelta, now: datetime,
                   settle: timedelta = timedelta(0)) -> IncidentPlan:
    """What to do with one rule's findings given the latest alert of each subject.

    A finding with an open alert is the same incident (nothing is sent).  A finding whose
    last alert is resolved but fired less than ``quiet`` ago, or was resolved less than
    ``settle`` ago (it never settled), reopens it without notifying — one flapping incident
    is one alert.  Any other finding fires a new alert.  Open alerts without a finding now
    are resolved.
    """
    plan = IncidentPlan()
    seen: set[str] = set()
    for finding in findings:
        if finding.subject in seen:
            continue
        seen.add(finding.subject)
        last = latest.get(finding.subject)
        if last is not None and not last.resolved:
            plan.ongoing.append((last.alert_id, finding))
        elif last is not None and (now - last.fired_at < quiet or (
                last.resolved_at is not None and now - last.resolved_at < settle)):
            plan.reopen.append((last.alert_id, finding))
        else:
            plan.fire.append(finding)
    plan.resolve = sorted(i.alert_id for subject, i in latest.items()
                          if not i.resolved and subject not in seen)
    return plan


# -- platform ---------------------------------------------------------------------------------


def connector_trouble(connector: Mapping) -> str | None:
    """Why a connector is down, or None when it is up (or disabled on purpose).

    ``connector`` is a row of ``pigeon connector list``: ``state`` up, down (no bind that may
    submit is bound), disabled, or "not running" (enabled, but no running dispatcher has
    reported on it lately — every dispatcher is gone, or none runs it).
    """
    state = connector.get("state")
    if state == "down":
        error = connector.get("last_error")
        return "no bind is up" + (f" ({error})" if error else "")
    if state == "not running":
        return "enabled, but no running dispatcher reports on it"
    return None


def connector_findings(connectors: Mapping[str, Mapping], down_since: Mapping[str, datetime],
                       now: datetime, grace: timedelta
                       ) -> tuple[list[Finding], dict[str, datetime]]:
    """Connectors (name → listing row) seen down for at least ``grace``; returns the findings
    and the new "down since" map, which the caller keeps between passes."""
    since: dict[str, datetime] = {}
    found: list[Finding] = []
    for name, connector in sorted(connectors.items()):
        why = connector_trouble(connector)
        if why is None:
            continue
        since[name] = down_since.get(name, now)
        if now - since[name] >= grace:
            found.append(Finding("connector_down", f"connector:{name}", "Connector down",
                                 f"Connector {name} is down: {why} (since "
                                 f"{since[name].isoformat(timespec='seconds')}).",
                                 {"connector": name, "why": why,
                                  "since": since[name].isoformat()}))
    return found, since


def backlog_finding(count: int, oldest_at: datetime | None, now: datetime, *, age: timedelta,
                    minimum: int) -> Finding | None:
    """``count`` messages have waited in the queue longer than ``age``."""
    if count < minimum or oldest_at is None:
        return None
    waited = int((now - oldest_at).total_seconds())
    return Finding("queue_backlog", "backlog", "Queue backlog growing",
                   f"{count} messages have waited more than {format_duration(int(age.total_seconds()))} "
                   f"to be sent; the oldest for {format_duration(max(waited, 1))}.",
                   {"messages": count, "oldest_seconds": waited, "threshold": minimum})


def report_failure_findings(per_account: Mapping[int, tuple[int, int]],
                            minimum: int) -> list[Finding]:
    """Per tenant, (failed, retrying) report events: a pile of at least ``minimum``."""
    found = []
    for account_id, (failed, retrying) in sorted(per_account.items()):
        if failed + retrying >= minimum:
            found.append(Finding(
                "report_failures", f"account:{account_id}", "Report pushes failing",
                f"Account {account_id} has {failed} reports whose push failed for good and "
                f"{retrying} being retried.",
                {"account_id": str(account_id), "failed": failed, "retrying": retrying,
                 "threshold": minimum}))
    return found
