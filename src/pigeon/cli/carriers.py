"""``pigeon connector`` and ``route``: the carrier connections and which messages each carries."""

from __future__ import annotations

from typing import Annotated

import typer

from pigeon.cli.common import JsonOpt, call, emit, plain, require_shared_key, run

connector_app = typer.Typer(help="Carrier connections (SMSCs over SMPP) and the built-in "
                                 "simulator.", no_args_is_help=True)
route_app = typer.Typer(help="Routing rules: which connector carries which messages.",
                        no_args_is_help=True)


ConnectorArg = Annotated[str, typer.Argument(help="The connector's name.")]
CONNECTOR_COLUMNS = ["name", "protocol", "address", "settings", "state", "bound", "msg/s",
                     "queue", "last_error"]


@connector_app.command("add")
def connector_add(
        name: ConnectorArg,
        host: Annotated[str, typer.Option("--host", help="The SMSC's host name or address.")],
        port: Annotated[int, typer.Option("--port", help="The SMSC's SMPP port.")],
        system_id: Annotated[str, typer.Option("--system-id", help="The account (system_id).")],
        password: Annotated[str, typer.Option(
            "--password", prompt=True, hide_input=True,
            help="The account's password (asked for when left out); stored encrypted.")],
        protocol: Annotated[str, typer.Option("--protocol", help="smpp")] = "smpp",
        system_type: Annotated[str, typer.Option("--system-type",
                                                 help="system_type, if the SMSC wants one.")]
        = "",
        tps: Annotated[float | None, typer.Option(
            "--tps", help="Most messages (PDUs) per second over all binds; default: no cap.")]
        = None,
        window: Annotated[int, typer.Option(
            "--window", help="Most submit_sm awaiting their answer, per bind.")] = 10,
        binds: Annotated[int, typer.Option("--binds", help="Sessions to keep bound.")] = 1,
        bind_mode: Annotated[str, typer.Option(
            "--bind-mode", help="transceiver, or transmitter+receiver (two sessions a bind).")]
        = "transceiver",
        as_json: JsonOpt = False) -> None:
    """Connect an SMSC; the running dispatcher binds it within a few seconds."""
    from pigeon.services import connectors

    if tps is not None and tps == int(tps):
        tps = int(tps)
    def work(p):
        if password:
            require_shared_key(p.settings)
        return p.db.write_sync(
            connectors.add, p.box, name, protocol, p.now(), host=host, port=port,
            system_id=system_id, password=password, system_type=system_type, tps=tps,
            window=window, binds=binds, bind_mode=bind_mode)

    added = call(work)
    emit(added, as_json)


@connector_app.command("list")
def connector_list(as_json: JsonOpt = False) -> None:
    """Every connector, with its live state when a dispatcher runs it (binds bound, messages
    per second, messages waiting for a window slot)."""
    from pigeon.services import connectors

    rows = plain(call(lambda p: p.db.read_sync(connectors.listing, p.now())))
    if as_json:
        emit(rows, True)
        return
    for row in rows:
        row["msg/s"] = row["throughput"]
        row["settings"] = "" if row["protocol"] != "smpp" else (
            f"{row['binds']} {row['bind_mode']}, window {row['window']}, "
            f"tps {row['tps'] or 'no cap'}")
    emit(rows, False, CONNECTOR_COLUMNS)


@connector_app.command("remove")
def connector_remove(name: ConnectorArg, as_json: JsonOpt = False) -> None:
    """Delete a connector no route names; the dispatcher unbinds it within a few seconds."""
    from pigeon.services import connectors

    emit(run(connectors.remove, name), as_json, ["name", "protocol", "address", "removed"])


@connector_app.command("disable")
def connector_disable(name: ConnectorArg, as_json: JsonOpt = False) -> None:
    """Stop using a connector (its binds close; routes naming it fall back or wait)."""
    from pigeon.services import connectors

    emit(run(connectors.set_enabled, name, False), as_json,
         ["name", "protocol", "address", "enabled"])


@connector_app.command("enable")
def connector_enable(name: ConnectorArg, as_json: JsonOpt = False) -> None:
    """Use a disabled connector again."""
    from pigeon.services import connectors

    emit(run(connectors.set_enabled, name, True), as_json,
         ["name", "protocol", "address", "enabled"])


ROUTE_COLUMNS = ["id", "priority", "carrier", "country", "template_type", "connector",
                 "fallback"]


@route_app.command("add")
def route_add(
        connector: Annotated[str, typer.Option("--connector", help="The connector to use.")],
        priority: Annotated[int | None, typer.Option(
            "--priority", help="Lower is tried first; default: after every existing rule.")]
        = None,
        carrier: Annotated[str | None, typer.Option(
            "--carrier", help="Only numbers of this mainland carrier: mobile, unicom, telecom "
                              "or broadnet.")] = None,
        country: Annotated[str | None, typer.Option(
            "--country", help="Only numbers of this country calling code (86, 852 …).")] = None,
        template_type: Annotated[str | None, typer.Option(
            "--template-type", help="Only templates of this type: otp, notification, "
                                    "promotional or international.")] = None,
        fallback: Annotated[str | None, typer.Option(
            "--fallback", help="The connector to use while --connector is down.")] = None,
        as_json: JsonOpt = False) -> None:
    """Add a routing rule (it takes effect on every node within a few seconds)."""
    from pigeon.services import routes

    added = call(lambda p: p.db.write_sync(
        routes.add, connector=connector, now=p.now(), priority=priority, carrier=carrier,
        country=country, template_type=template_type, fallback=fallback))
    emit(added, as_json, ROUTE_COLUMNS)


@route_app.command("list")
def route_list(as_json: JsonOpt = False) -> None:
    """The rules in the order they are tried (an empty condition matches anything)."""
    from pigeon.services import routes

    emit(run(routes.listing, write=False), as_json, ROUTE_COLUMNS)


@route_app.command("remove")
def route_remove(route_id: Annotated[int, typer.Argument(help="The rule's id.")],
                 as_json: JsonOpt = False) -> None:
    """Delete a routing rule."""
    from pigeon.services import routes

    emit(run(routes.remove, route_id), as_json, [*ROUTE_COLUMNS, "removed"])
