"""Quick Start's "Send via API" samples, run as a tenant would copy them: the Python SDK's,
the Node.js SDK's and curl's, against a live Pigeon, each sending a message that is accepted.
(Java's is the same calls; no JDK here to run it.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from pigeon.console import api_samples
from tests.support import peers
from tests.support.sending import ready_to_send

pytestmark = pytest.mark.slow


@pytest.fixture
def sample(pigeon, server, tenant, core_sdk) -> api_samples.Sample:
    sender = ready_to_send(pigeon, core_sdk, tenant.account_id)
    return api_samples.Sample(endpoint=server.url, key_id=tenant.key_id, sign_name=sender.sign,
                              template_code=sender.notice, phone="13800138000",
                              params={"order": "A1024"})


def _env(tenant) -> dict:
    return {**os.environ, api_samples.SECRET_VARIABLE: tenant.secret}


def test_the_python_sample_sends(sample, tenant, tmp_path):
    code = api_samples.python(sample)
    assert tenant.key_id in code and tenant.secret not in code
    script = tmp_path / "send.py"
    script.write_text(code)
    answer = subprocess.run([sys.executable, str(script)], env=_env(tenant),
                            capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr
    assert re.fullmatch(r"OK \d+\^0\n", answer.stdout)


def test_the_curl_sample_signs_and_sends(sample, tenant, tmp_path):
    if not shutil.which("curl") or not shutil.which("openssl"):
        pytest.skip("missing tool: curl and openssl")
    script = tmp_path / "send.sh"
    script.write_text(api_samples.curl(sample))
    answer = subprocess.run(["bash", str(script)], env=_env(tenant), capture_output=True,
                            text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr
    body = json.loads(answer.stdout)
    assert body["Code"] == "OK" and body["BizId"].endswith("^0"), body


def test_the_node_sample_sends(sample, tenant, tmp_path):
    modules = peers.node_modules("alibaba-sdks", "@alicloud/dysmsapi20170525")
    script = tmp_path / "send.js"
    script.write_text(api_samples.node(sample))
    answer = subprocess.run(["node", str(script)], env={**_env(tenant),
                                                        "NODE_PATH": str(modules)},
                            capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr
    assert re.fullmatch(r"OK \d+\^0\n", answer.stdout)


def test_the_java_sample_names_the_same_things():
    code = api_samples.java(api_samples.Sample("http://127.0.0.1:8080", "LTAI5tKEY", "云雀科技",
                                               "SMS_1", "13800138000", {"code": "1234"}))
    assert '.setEndpoint("127.0.0.1:8080")' in code and '.setProtocol("http")' in code
    assert 'System.getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")' in code
    assert '.setTemplateParam("{\\"code\\":\\"1234\\"}")' in code
