"""The automatic reviewer's verdict on a qualification, signature or template."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    """``approved`` or not, and why.

    ``reason`` is empty for an approval.  For a rejection it is English text, shown to the
    tenant as the rejection remark (``RejectInfo``/``AuditRemark``), naming every problem found
    and what to change, problems separated by ``"; "``.
    """

    approved: bool
    reason: str = ""

    @classmethod
    def from_problems(cls, problems: Iterable[str]) -> Decision:
        """Approve when there are no problems, otherwise reject listing each one."""
        found = [problem.rstrip(".") for problem in problems if problem]
        if not found:
            return APPROVED
        return cls(False, "; ".join(found) + ".")


APPROVED = Decision(True, "")
