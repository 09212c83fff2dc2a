"""The one place Pigeon reads the wall clock; everything else takes ``now`` as an argument."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
