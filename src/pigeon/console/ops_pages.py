"""Operator pages beyond review: carrier registration, billing, connectors and routes, handsets."""

from __future__ import annotations

from starlette.routing import Route


def routes(t, o) -> list[Route]:
    """This module's routes, built with ``t`` (tenant pages) and ``o`` (operator pages)."""
    return []
