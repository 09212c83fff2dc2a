"""Every action, signed, with parameters drawn at random — long, deeply nested, oddly encoded,
dated at the ends of time — against the real server: never a 500, and neither the database nor
the server's memory grows beyond what the accepted requests may store."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pigeon.api.rpc.actions import load
from tests.api.test_robustness import PARAM_NAMES
from tests.support import signer

pytestmark = pytest.mark.slow

EXAMPLES = 200
NAMES = sorted({*PARAM_NAMES, "SignatureNonce", "Version", "Format", "RegionId", "PageNo",
                "TemplateTag", "UsableStateList", "AuditStatus", "TrademarkIdList"})


def nested(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + '"1"' + "]" * depth
    return '{"a":' * depth + '"1"' + "}" * depth


lengths = st.integers(0, 70_000).map(lambda n: "长" * n)
nesting = st.builds(nested, st.integers(1, 5000), st.sampled_from(["array", "object"]))
encodings = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=60),
    st.sampled_from(["\x00", "%", "%ff", "\ufeff", "\u202e", "😀" * 20, "\r\n", "+", "&=",
                     "${code}", "【】", "<script>", "\\u0000", '"', "'"]),
)
dates = st.one_of(
    st.integers(0, 99_999_999).map(lambda n: f"{n:08d}"),
    st.sampled_from(["00010101", "99991231", "19700101", "29991231", "20240230", "20260101"]),
    st.tuples(st.integers(1, 9999), st.integers(1, 9999)).map(
        lambda years: f"{years[0]:04d}-01-01~{years[1]:04d}-12-31"),
)
numbers = st.one_of(st.integers(-2**70, 2**70).map(str),
                    st.sampled_from(["0", "-1", "1e9", "NaN", "1" * 5000]))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=20).map(lambda value: json.dumps(value, ensure_ascii=False))
values = st.one_of(lengths, nesting, encodings, dates, numbers, json_values)


def database_bytes(served) -> int:
    """Bytes of the database in use (its pages, free ones not counted; the WAL's included)."""
    def used(conn) -> int:
        pragma = conn.exec_driver_sql
        return (pragma("PRAGMA page_count").scalar() - pragma("PRAGMA freelist_count").scalar()
                ) * pragma("PRAGMA page_size").scalar()

    return served.local.db.read_sync(used)


@pytest.fixture(scope="module")
def before(served):
    return database_bytes(served), served.rss_mb()


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(action=st.sampled_from(sorted(load())),
       params=st.dictionaries(st.sampled_from(NAMES), values, max_size=6))
def test_no_parameters_make_the_server_fail(served, before, action, params):
    signed = signer.v1_params(served.tenant, action, params)
    answer = httpx.post(f"{served.url}/", content=signer.form(signed), timeout=30,
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert answer.status_code < 500, answer.text[:2000]
    body = answer.json()
    assert isinstance(body.get("Code"), str) and body["Code"] != "InternalError", body
    assert "Traceback" not in answer.text


def test_the_fuzzing_left_the_server_in_bounds(served, before):
    size, rss = before
    grown = database_bytes(served) - size
    # What the accepted requests may store: the spec's limits are a few kilobytes a request;
    # 70,000-character values stored as they came would pass it within a few dozen requests.
    assert grown < EXAMPLES * 8 * 1024, grown
    assert served.rss_mb() - rss < 60
    assert "Traceback" not in served.log()
