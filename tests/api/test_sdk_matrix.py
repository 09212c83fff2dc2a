"""Every implemented action through every official client Alibaba ships, with only the
parameters it needs, with every optional one, and with the requests each SDK's users build —
so that what an SDK sends for a field nobody set (an empty list, an empty string) means "not
given" everywhere, as it does for Alibaba (docs/api.md).

Clients (spec/wire.md):

* ``py-tea-v3`` / ``py-tea-v1``: ``alibabacloud-dysmsapi20170525`` (and
  ``alibabacloud-dybaseapi20170525`` for QueryTokenForMnsQueue), V3 and V1 signatures;
* ``py-core-typed``: ``aliyun-python-sdk-core`` with the typed ``aliyunsdkdysmsapi`` requests —
  only the 14 actions that package has a class for; a parameter its class has no setter for is
  added with ``add_query_param``, as its users must;
* ``py-core-common``: ``aliyun-python-sdk-core``'s CommonRequest;
* ``node-tea``: npm ``@alicloud/dysmsapi20170525`` (tests/peers/alibaba-sdks/tea.js);
* ``pop-core``: npm ``@alicloud/pop-core`` (tests/peers/alibaba-sdks/pop-core.js).

Variants of each call (tests/support/action_cases.py has the parameters):

* ``required``: only what the call needs (for the Python Tea SDK built with the constructor,
  which leaves every other field ``None``; for pop-core with its default options, GET);
* ``optional``: every optional parameter too, each with a valid value;
* ``blank``: the required ones, and every optional one empty — ``""`` for text, ``[]`` for a
  list (or a JSON array given as text), ``0`` for a number with only positive values: what a
  client sends for a field left at its default, or code passing a form's empty fields along;
* ``from_map`` (Python Tea only): ``XRequest().from_map({...required})``, which makes every
  list not given ``[]`` (the SDK then sends ``OtherFiles=[]``).

The Node Tea SDK 4.6.0 has no ``fromMap``: its requests are only built with
``new XRequest({...})``, which leaves every field not given undefined (the ``required``
variant).  One server and one tenant per client serve all calls; each Node client runs its
calls in one process.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
from dataclasses import dataclass

import pytest
from alibabacloud_dybaseapi20170525 import models as dybase_models
from alibabacloud_dybaseapi20170525.client import Client as DybaseClient
from alibabacloud_dysmsapi20170525 import models as dysms_models
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from aliyunsdkcore.acs_exception.exceptions import ServerException

from pigeon.api.rpc.actions import load
from pigeon.app import Pigeon
from tests.conftest import fresh_database_url, make_tenant, suite_settings
from tests.support.action_cases import CASES, FLATTENED, Stage, blank
from tests.support.peers import PEERS, node_modules
from tests.support.sdk import CoreClient, Tenant, tea_client
from tests.support.server import LiveServer

TYPED_ACTIONS = ("AddSmsSign", "AddSmsTemplate", "DeleteSmsSign", "DeleteSmsTemplate",
                 "ModifySmsSign", "ModifySmsTemplate", "QuerySendDetails", "QuerySendStatistics",
                 "QuerySmsSign", "QuerySmsSignList", "QuerySmsTemplate", "QuerySmsTemplateList",
                 "SendBatchSms", "SendSms")
"""The actions ``aliyun-python-sdk-dysmsapi`` 2.1.2 has a request class for."""

VARIANTS = ("required", "optional", "blank")
TEA_VARIANTS = (*VARIANTS, "from_map")


@dataclass(frozen=True)
class Planned:
    action: str
    variant: str
    params: dict
    expect: str


@dataclass(frozen=True)
class Answer:
    status: int | None  # None when the client does not show it (pop-core) or failed itself
    code: str | None
    message: str | None


def plan(stage: Stage, actions, variants) -> list[Planned]:
    planned = []
    for action in actions:
        for variant in variants:
            case = CASES[action](stage)
            if variant == "optional":
                params = {**case.required, **case.optional}
            elif variant == "blank":
                blanks = {name: blank(name, value) for name, value in case.optional.items()
                          if name not in case.required}
                params = {**case.required,
                          **{name: value for name, value in blanks.items() if value is not None}}
            else:
                params = dict(case.required)
            planned.append(Planned(action, variant, params, case.expect))
    return planned


def _text(value) -> str:
    """A typed value as users of a string-only client pass it: lists as compact JSON text."""
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


# -- the Python clients -----------------------------------------------------------------------

def _tea_request(models, call: Planned):
    request = getattr(models, f"{call.action}Request")().from_map(call.params)
    if call.variant in ("required", "optional"):
        # As the constructor builds it: a list not given stays None (from_map makes it []).
        for attribute, value in vars(request).items():
            if value == []:
                setattr(request, attribute, None)
    return request


def run_tea(endpoint: str, tenant: Tenant, calls: list[Planned], *, v1: bool) -> list[Answer]:
    client = tea_client(endpoint, tenant, v1=v1)
    config = open_api_models.Config(access_key_id=tenant.key_id, access_key_secret=tenant.secret,
                                    endpoint=endpoint, protocol="http")
    if v1:
        config.signature_algorithm = "v2"
    dybase = DybaseClient(config)
    answers = []
    for call in calls:
        target, models = ((dybase, dybase_models) if call.action == "QueryTokenForMnsQueue"
                          else (client, dysms_models))
        methods = {name.replace("_", ""): name for name in dir(target)}
        method = getattr(target, methods[call.action.lower()])
        try:
            body = method(_tea_request(models, call)).body
            # (The tag actions' models have no Message field.)
            answers.append(Answer(200, body.code, getattr(body, "message", None)))
        except AlibabaCloudException as error:
            answers.append(Answer(error.status_code, error.code, error.message))
    return answers


def _typed_request(call: Planned):
    module = importlib.import_module(f"aliyunsdkdysmsapi.request.v20170525.{call.action}Request")
    request = getattr(module, f"{call.action}Request")()
    for name, value in call.params.items():
        if name == "SignFileList":
            request.set_SignFileLists(value)
        elif hasattr(request, f"set_{name}"):
            getattr(request, f"set_{name}")(_text(value))
        else:
            request.add_query_param(name, _text(value))
    return request


def _core_answer(run) -> Answer:
    try:
        body = run()
        return Answer(200, body["Code"], body.get("Message"))
    except ServerException as error:
        return Answer(error.get_http_status(), error.get_error_code(), error.get_error_msg())


def run_core_typed(endpoint: str, tenant: Tenant, calls: list[Planned]) -> list[Answer]:
    core = CoreClient(endpoint, tenant)
    return [_core_answer(lambda call=call: core.typed(_typed_request(call))) for call in calls]


def _flat(params: dict) -> dict:
    """Parameters as a CommonRequest user adds them: the lists the SDKs flatten flattened
    (``SignFileList.1.FileContents``, ``ResourceId.1``), other lists as JSON text."""
    flat = {}
    for name, value in params.items():
        if name in FLATTENED:
            for index, item in enumerate(value, start=1):
                if isinstance(item, dict):
                    flat.update({f"{name}.{index}.{key}": text for key, text in item.items()})
                else:
                    flat[f"{name}.{index}"] = item
        else:
            flat[name] = _text(value)
    return flat


def run_core_common(endpoint: str, tenant: Tenant, calls: list[Planned]) -> list[Answer]:
    core = CoreClient(endpoint, tenant)
    return [_core_answer(lambda call=call: core.common(call.action, _flat(call.params)))
            for call in calls]


# -- the Node clients -------------------------------------------------------------------------

def run_node(script: str, endpoint: str, tenant: Tenant, calls: list[dict]) -> list[Answer]:
    modules = node_modules("alibaba-sdks", "@alicloud/dysmsapi20170525")
    job = {"endpoint": endpoint, "accessKeyId": tenant.key_id,
           "accessKeySecret": tenant.secret, "calls": calls}
    done = subprocess.run(["node", str(PEERS / "alibaba-sdks" / script)],
                          input=json.dumps(job, ensure_ascii=False), text=True,
                          capture_output=True, timeout=120,
                          env={**os.environ, "NODE_PATH": str(modules)})
    assert done.returncode == 0, done.stderr
    answers = []
    for line in done.stdout.splitlines():
        result = json.loads(line)
        answers.append(Answer(result["status"], result["code"],
                              result.get("message") or result.get("error")))
    assert len(answers) == len(calls), done.stderr
    return answers


def run_node_tea(endpoint: str, tenant: Tenant, calls: list[Planned]) -> list[Answer]:
    return run_node("tea.js", endpoint, tenant,
                    [{"action": call.action, "params": call.params} for call in calls])


def _pop_params(params: dict) -> dict:
    # pop-core flattens an array itself (SignFileList.1.FileContents, ResourceId.1); the
    # JSON-text parameters its users stringify.
    return {name: value if name in FLATTENED else _text(value)
            for name, value in params.items()}


def run_pop_core(endpoint: str, tenant: Tenant, calls: list[Planned]) -> list[Answer]:
    return run_node("pop-core.js", endpoint, tenant, [
        {"action": call.action, "params": _pop_params(call.params),
         "method": "GET" if call.variant == "required" else "POST"} for call in calls])


CLIENTS = {
    "py-tea-v3": (lambda e, t, c: run_tea(e, t, c, v1=False), TEA_VARIANTS),
    "py-tea-v1": (lambda e, t, c: run_tea(e, t, c, v1=True), TEA_VARIANTS),
    "py-core-typed": (run_core_typed, VARIANTS),
    "py-core-common": (run_core_common, VARIANTS),
    "node-tea": (run_node_tea, VARIANTS),
    "pop-core": (run_pop_core, VARIANTS),
}


# -- the matrix -------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(request, tmp_path_factory, postgres):
    """One Pigeon server for every client of the module, on each database."""
    directory = tmp_path_factory.mktemp("matrix")
    pigeon = Pigeon(suite_settings(directory, fresh_database_url(request.param, directory,
                                                                  postgres)))
    server = LiveServer(pigeon).start()
    yield pigeon, server
    server.stop()
    pigeon.close()


def test_the_matrix_has_a_case_for_every_action():
    assert sorted(CASES) == sorted(load())
    assert set(TYPED_ACTIONS) <= set(CASES)


def _failures(calls: list[Planned], answers: list[Answer]) -> list[str]:
    failures = []
    for call, answer in zip(calls, answers, strict=True):
        if answer.code != call.expect or answer.status not in (200, None):
            failures.append(f"{call.action} [{call.variant}]: HTTP {answer.status} {answer.code}:"
                            f" {answer.message} (expected {call.expect})\n"
                            f"    sent {json.dumps(call.params, ensure_ascii=False)[:300]}")
    return failures


@pytest.mark.parametrize("client", CLIENTS)
def test_every_action_through(live, client):
    pigeon, server = live
    run, variants = CLIENTS[client]
    tenant = make_tenant(pigeon, f"{client} 公司")
    stage = Stage(pigeon, CoreClient(server.endpoint, tenant), tenant)
    actions = TYPED_ACTIONS if client == "py-core-typed" else sorted(CASES)
    calls = plan(stage, actions, variants)
    answers = run(server.endpoint, tenant, calls)
    failures = _failures(calls, answers)
    assert not failures, f"{len(failures)} of {len(calls)} calls failed:\n" + "\n".join(failures)
