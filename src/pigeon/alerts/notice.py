"""What an alert says, in each channel's form: plain text (email), markdown (DingTalk), a short
line (SMS) and a JSON object (webhooks).

A notice is about an ``event`` of the alert: ``fired`` (the incident began) or ``resolved``
(its condition has cleared and stayed clear; told once, to the channels told when it fired).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

PRODUCT = "Pigeon"


@dataclass(frozen=True)
class Notice:
    alert_id: int
    account_id: int | None  # None: a platform alert, for operators
    account_name: str | None
    kind: str
    subject: str
    title: str
    text: str
    figures: dict
    fired_at: datetime
    zone: tzinfo
    protection: dict | None = None  # the protection the alert switched on, if any
    test: bool = False  # `pigeon alerts channels test`
    extra: dict = field(default_factory=dict)
    event: str = "fired"  # fired | resolved
    resolved_at: datetime | None = None

    @property
    def resolved(self) -> bool:
        return self.event == "resolved"

    @property
    def owner(self) -> str:
        if self.account_id is None:
            return "platform"
        return f"{self.account_name} ({self.account_id})" if self.account_name \
            else str(self.account_id)

    def _local(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")

    @property
    def local_time(self) -> str:
        return self._local(self.fired_at)

    @property
    def headline(self) -> str:
        test = "[test] " if self.test else ""
        resolved = "Resolved: " if self.resolved else ""
        return f"[{PRODUCT}] {test}{resolved}{self.title} — {self.owner}"

    def resolution(self) -> str:
        """The sentence of a resolved notice: when it cleared, and how long it lasted."""
        end = self.resolved_at or self.fired_at
        lasted = max(int((end - self.fired_at).total_seconds()), 0)
        hours, rest = divmod(lasted, 3600)
        took = f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m {rest % 60:02d}s"
        return (f"The condition has cleared: resolved at {self._local(end)} ({self.zone}), "
                f"{took} after the alert fired at {self.local_time}.")

    def protection_line(self) -> str | None:
        p = self.protection
        if not p:
            return None
        what = {"range": f"OTP to range {p.get('scope')} blocked",
                "country": f"OTP to country +{p.get('scope')} blocked",
                "throttle": f"OTP throttled to {p.get('per_minute')}/minute"}.get(p["kind"],
                                                                                  p["kind"])
        until = f" until {p['expires_at']}" if p.get("expires_at") else " until lifted"
        return (f"Protection {p['id']}: {what}{until}; lift it with "
                f"`pigeon alerts protection lift {self.account_id} {p['id']}`.")

    def plain(self) -> str:
        lines = [self.headline, ""]
        if self.resolved:
            lines += [self.resolution(), "", f"When it fired: {self.text}", ""]
        else:
            lines += [self.text, ""]
        if not self.resolved and (line := self.protection_line()):
            lines += [line, ""]
        lines.append(f"Alert {self.alert_id}, {self.kind} ({self.subject}), fired at "
                     f"{self.local_time} ({self.zone}).")
        for name, value in self.figures.items():
            lines.append(f"  {name}: {value}")
        return "\n".join(lines) + "\n"

    def markdown(self, mentions: list[str] | None = None) -> str:
        if self.resolved:
            lines = [f"### ✅ {self.headline}", "", f"**{self.resolution()}**", "",
                     f"When it fired: {self.text}", ""]
        else:
            lines = [f"### {self.headline}", "", self.text, ""]
        if not self.resolved and (line := self.protection_line()):
            lines += [f"**{line}**", ""]
        lines += [f"- alert: {self.alert_id}", f"- rule: {self.kind} ({self.subject})",
                  f"- time: {self.local_time}"]
        lines += [f"- {name}: {value}" for name, value in self.figures.items()
                  if not isinstance(value, list | dict)]
        if mentions:
            lines += ["", " ".join(f"@{m}" for m in mentions)]
        return "\n".join(lines)

    def short(self) -> str:
        """One SMS (the signature is added by the sending path): the title, who, and the
        figures' sentence — or, resolved, when it cleared."""
        head = self.headline.removeprefix(f"[{PRODUCT}] ")
        if self.resolved:
            end = self._local(self.resolved_at or self.fired_at)
            return f"{head}: cleared at {end} (alert {self.alert_id})"
        protection = " Protection on." if self.protection else ""
        return f"{head}: {self.text}{protection} (alert {self.alert_id})"

    def payload(self) -> dict:
        return {"alert_id": self.alert_id, "account_id": None if self.account_id is None
                else str(self.account_id), "account_name": self.account_name,
                "kind": self.kind, "subject": self.subject, "title": self.title,
                "text": self.text, "figures": self.figures,
                "fired_at": self.fired_at.isoformat(), "protection": self.protection,
                "test": self.test, "event": self.event,
                "resolved_at": self.resolved_at.isoformat() if self.resolved else None}
