"""Ready-to-run SendSms code for Quick Start's "Send via API" tab: the official SDKs for
Python, Java and Node.js, and curl with the V3 signature (ACS3-HMAC-SHA256) computed by bash
and openssl — each filled with the endpoint the tenant reached Pigeon at, its AccessKey id,
and the chosen signature, template, number and variables.

The secret is never written into the code: every sample reads it from
``ALIBABA_CLOUD_ACCESS_KEY_SECRET``, the variable Alibaba's own tools use.
tests/console/test_api_samples.py runs the Python and curl samples against a live Pigeon.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

SECRET_VARIABLE = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"


@dataclass(frozen=True)
class Sample:
    endpoint: str  # scheme://host[:port], as reached
    key_id: str
    sign_name: str
    template_code: str
    phone: str
    params: dict[str, str]

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).netloc

    @property
    def scheme(self) -> str:
        return urlsplit(self.endpoint).scheme or "http"

    @property
    def params_json(self) -> str:
        return json.dumps(self.params, ensure_ascii=False, separators=(",", ":"))


def _literal(text: str) -> str:
    """A string literal valid in Python, Java and JavaScript (JSON's escapes are)."""
    return json.dumps(text, ensure_ascii=False)


def python(s: Sample) -> str:
    return f'''# pip install alibabacloud_dysmsapi20170525
import os

from alibabacloud_dysmsapi20170525 import models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi import models as open_api_models

client = Client(open_api_models.Config(
    access_key_id={_literal(s.key_id)},
    access_key_secret=os.environ["{SECRET_VARIABLE}"],
    endpoint={_literal(s.host)}, protocol={_literal(s.scheme)}))
answer = client.send_sms(models.SendSmsRequest(
    phone_numbers={_literal(s.phone)}, sign_name={_literal(s.sign_name)},
    template_code={_literal(s.template_code)},
    template_param={_literal(s.params_json)})).body
print(answer.code, answer.biz_id)
'''


def java(s: Sample) -> str:
    return f'''// Maven: com.aliyun:dysmsapi20170525
import com.aliyun.dysmsapi20170525.Client;
import com.aliyun.dysmsapi20170525.models.SendSmsRequest;
import com.aliyun.dysmsapi20170525.models.SendSmsResponse;
import com.aliyun.teaopenapi.models.Config;

public class SendSms {{
    public static void main(String[] args) throws Exception {{
        Config config = new Config()
            .setAccessKeyId({_literal(s.key_id)})
            .setAccessKeySecret(System.getenv("{SECRET_VARIABLE}"))
            .setEndpoint({_literal(s.host)})
            .setProtocol({_literal(s.scheme)});
        Client client = new Client(config);
        SendSmsResponse answer = client.sendSms(new SendSmsRequest()
            .setPhoneNumbers({_literal(s.phone)})
            .setSignName({_literal(s.sign_name)})
            .setTemplateCode({_literal(s.template_code)})
            .setTemplateParam({_literal(s.params_json)}));
        System.out.println(answer.getBody().getCode() + " " + answer.getBody().getBizId());
    }}
}}
'''


def node(s: Sample) -> str:
    return f'''// npm install @alicloud/dysmsapi20170525 @alicloud/openapi-client
const Dysmsapi = require("@alicloud/dysmsapi20170525");
const OpenApi = require("@alicloud/openapi-client");

const client = new Dysmsapi.default(new OpenApi.Config({{
  accessKeyId: {_literal(s.key_id)},
  accessKeySecret: process.env.{SECRET_VARIABLE},
  endpoint: {_literal(s.host)},
  protocol: {_literal(s.scheme)},
}}));
client.sendSms(new Dysmsapi.SendSmsRequest({{
  phoneNumbers: {_literal(s.phone)},
  signName: {_literal(s.sign_name)},
  templateCode: {_literal(s.template_code)},
  templateParam: {_literal(s.params_json)},
}})).then((answer) => console.log(answer.body.code, answer.body.bizId));
'''


def _shell(text: str) -> str:
    """A single-quoted shell word."""
    return "'" + text.replace("'", "'\\''") + "'"


def curl(s: Sample) -> str:
    return f'''#!/usr/bin/env bash
# SendSms with curl: the V3 signature (ACS3-HMAC-SHA256) computed with openssl.
set -euo pipefail
KEY_ID={_shell(s.key_id)}
SECRET="${SECRET_VARIABLE}"
HOST={_shell(s.host)}
enc() {{ local LC_ALL=C s="$1" o="" c i; for ((i = 0; i < ${{#s}}; i++)); do c=${{s:i:1}}
  case $c in [A-Za-z0-9._~-]) o+=$c ;; *) o+=$(printf '%%%02X' "'$c") ;; esac; done
  printf '%s' "$o"; }}
QUERY="PhoneNumbers=$(enc {_shell(s.phone)})&SignName=$(enc {_shell(s.sign_name)})\\
&TemplateCode=$(enc {_shell(s.template_code)})&TemplateParam=$(enc {_shell(s.params_json)})"
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
NONCE=$(openssl rand -hex 16)
EMPTY=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
HEADERS="host:$HOST
x-acs-action:SendSms
x-acs-content-sha256:$EMPTY
x-acs-date:$DATE
x-acs-signature-nonce:$NONCE
x-acs-version:2017-05-25"
SIGNED="host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
CANONICAL=$(printf 'POST\\n/\\n%s\\n%s\\n\\n%s\\n%s' "$QUERY" "$HEADERS" "$SIGNED" "$EMPTY")
HASHED=$(printf '%s' "$CANONICAL" | openssl dgst -sha256 -hex | sed 's/^.* //')
SIGNATURE=$(printf 'ACS3-HMAC-SHA256\\n%s' "$HASHED" \\
  | openssl dgst -sha256 -hmac "$SECRET" -hex | sed 's/^.* //')
curl -sS -X POST "{s.scheme}://$HOST/?$QUERY" \\
  -H "x-acs-action: SendSms" -H "x-acs-version: 2017-05-25" -H "x-acs-date: $DATE" \\
  -H "x-acs-signature-nonce: $NONCE" -H "x-acs-content-sha256: $EMPTY" \\
  -H "Authorization: ACS3-HMAC-SHA256 Credential=$KEY_ID,SignedHeaders=$SIGNED,Signature=$SIGNATURE"
echo
'''


LANGUAGES = (("python", "Python", python), ("java", "Java", java), ("node", "Node.js", node),
             ("curl", "curl", curl))


def samples(sample: Sample) -> list[dict]:
    """Each language's code: ``[{"key", "name", "code"}]``."""
    return [{"key": key, "name": name, "code": make(sample)} for key, name, make in LANGUAGES]
