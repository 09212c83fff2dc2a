"""What docs/operations.md ships in deploy/: Prometheus rules that parse as rules and name
runbooks that exist, and a Grafana dashboard whose every query names metrics ``/metrics``
really exports."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from pigeon.app import Pigeon
from pigeon.config import Secret
from pigeon.core.alert_rules import PLATFORM_KINDS
from tests.support.scrape import TOKEN
from tests.support.server import LiveServer

ROOT = Path(__file__).parents[1]
RULES = ROOT / "deploy" / "prometheus-rules.yml"
DASHBOARD = ROOT / "deploy" / "grafana-dashboard.json"
DOC = ROOT / "docs" / "operations.md"
METRIC = re.compile(r"\bpigeon_[a-z_]+")


def _anchors() -> set[str]:
    return {re.sub(r"[^a-z0-9_ -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in DOC.read_text().splitlines() if line.startswith("#")}


def _rules() -> list[dict]:
    loaded = yaml.safe_load(RULES.read_text())
    [group] = loaded["groups"]
    assert group["name"] == "pigeon"
    return group["rules"]


def test_the_rules_are_prometheus_rules_with_a_runbook_each():
    rules = _rules()
    anchors = _anchors()
    assert len({rule["alert"] for rule in rules}) == len(rules) >= 10
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert isinstance(rule["expr"], str) and rule["expr"].count("(") == \
            rule["expr"].count(")"), rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "0s")), rule["alert"]
        page, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert page == "docs/operations.md" and anchor in anchors, rule["annotations"]
    # every platform alert Pigeon raises by itself has its runbook
    assert set(PLATFORM_KINDS) <= anchors


def test_the_dashboard_loads(tmp_path):
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] == "Pigeon" and dashboard["uid"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 10
    for panel in dashboard["panels"]:
        assert panel["targets"] and all(t["expr"] for t in panel["targets"])


def test_every_metric_the_rules_and_dashboard_name_is_exported(settings):
    pigeon = Pigeon(replace(settings, metrics_token=Secret(TOKEN)))
    live = LiveServer(pigeon).start()
    try:
        import httpx

        text = httpx.get(live.url + "/metrics",
                         headers={"Authorization": f"Bearer {TOKEN}"}).text
    finally:
        live.stop()
        pigeon.close()
    exported = set()
    for family in text_string_to_metric_families(text):
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                    "gauge": ("",)}[family.type]
        exported |= {family.name + suffix for suffix in suffixes}
    queries = [rule["expr"] for rule in _rules()] + [
        target["expr"] for panel in json.loads(DASHBOARD.read_text())["panels"]
        for target in panel["targets"]]
    named = {name for query in queries for name in METRIC.findall(query)}
    assert named and named <= exported, named - exported
    documented = set(METRIC.findall(DOC.read_text()))
    assert {name for name in exported if not name.endswith(("_bucket", "_sum", "_count"))} \
        <= documented | {n.removesuffix("_total") for n in documented}
