"""Connectors by kind, and how a running Pigeon builds them from the ``connectors`` table.

Each protocol package provides one connector class; :data:`KINDS` names them by the
``protocol`` an operator gives (``pigeon connector add --protocol smpp``).  The built-in
simulator is the row named ``simulator``; SMPP connectors are built from their stored settings
(:mod:`pigeon.services.connectors`).  The dispatcher starts them, and keeps them in step with
the table while it runs (:class:`pigeon.workers.dispatcher.Fleet`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pigeon.carriers.base import Connector
from pigeon.carriers.simulator.connector import SimulatorConnector
from pigeon.carriers.smpp import SmppConnector

if TYPE_CHECKING:
    from pigeon.app import Pigeon
    from pigeon.services.connectors import Spec

KINDS: dict[str, type] = {"simulator": SimulatorConnector, "smpp": SmppConnector}


def create(pigeon: Pigeon, spec: Spec) -> Connector:
    """One connector from its stored settings (not started).  ``ValueError`` for settings
    its class refuses."""
    settings = pigeon.settings
    if spec.protocol == "simulator":
        return SimulatorConnector(spec.name, pigeon.db, zone=settings.timezone,
                                  delay=settings.simulator_delay,
                                  access_code=settings.access_code, now=pigeon.now)
    if spec.protocol == "smpp":
        config = spec.config
        return SmppConnector(
            spec.name, config["host"], config["port"], config["system_id"],
            spec.password or "", config.get("system_type", ""), tps=config.get("tps"),
            window=config.get("window", 10), binds=config.get("binds", 1),
            bind_mode=config.get("bind_mode", "transceiver"),
            access_code=settings.access_code)
    raise ValueError(f"connector {spec.name!r}: unknown protocol {spec.protocol!r} "
                     f"(known: {', '.join(KINDS)})")


def build(pigeon: Pigeon, specs: list[Spec] | None = None) -> dict[str, Connector]:
    """The enabled connectors of the ``connectors`` table (or of ``specs``), by name, not
    started."""
    if specs is None:
        from pigeon.services import connectors

        specs = pigeon.db.read_sync(connectors.specs, pigeon.box)
    return {spec.name: create(pigeon, spec) for spec in specs if spec.enabled}
