"""Reading ``/metrics`` as Prometheus does: with its text parser (prometheus_client.parser)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-token-for-tests-0001"


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of an exposition: (sample name, its labels) → value."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def scrape(base_url: str, token: str | None = TOKEN, path: str = "/metrics") -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = httpx.get(base_url + path, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(answer.text)


def value(samples: dict, name: str, **labels: str) -> float:
    """A sample's value (0 when it is not there yet: a counter not moved)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: dict, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (sample, seen), v in samples.items() if sample == name and wanted <= seen)
