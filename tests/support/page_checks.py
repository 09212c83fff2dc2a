"""What the console's browser tests check on every page they visit: the page speaks one
language (no string left untranslated), shows people's words (no raw field name or enumeration
from :data:`RAW_NAMES`), fits its viewport, and has no WCAG 2 A/AA violation that axe-core
finds (axe-core from npm, tests/peers/axe, installed as tests/support/peers.py installs peers).

Text a page marks ``translate="no"`` (what a tenant typed: names, message text, codes) and text
in ``<code>``/``<pre>`` are data, not the page's own words, and text carrying its own ``lang``
(the language switch's "简体中文") is in that language on purpose.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import peers

RAW_NAMES = (
    "BussinessLicenseExpDate", "LegalPersonIDCardNo", "AdminIDCardNo", "OrganizationCode",
    "LegalPersonIdCardEffTime", "AdminIDCardExpDate", "AdminIDCardType", "AdminPhoneNo",
    "identityCard", "socialCreditLicense", "NON_PROFIT_ORGANIZATION", "DETECT_SUCCESS",
    "NOT_PASS", "NOT_FINISH", "CertifyCode", "UseBySelf", "WhetherShare", "TemplateRule",
    "TemplateParam", "TemplateContent", "numberCaptcha", "characterWithNumber",
    "other_number2", "phone_number2", "RequiredPhoneCode", "QualificationId", "SignName",
    "source 0", "state INIT", "isv.AMOUNT_NOT_ENOUGH:", "${ '{' }}", "operator:", "LicensePic",
)
"""Field names and enumeration values of the API that must never face a person."""

ALLOWED_LATIN = frozenset("""
Pigeon AccessKey AccessKeys ID API SDK BizId OutId CSV XLSX UTF-8 BOM GBK Excel HTTP HTTPS URL
JSON MNS SMTP Webhook HMAC SEC SmsReport SmsUp SignSmsReport TemplateSmsReport
SmsConversionIntl SendSms SendBatchSms QuerySendStatistics CreateSmartShortUrl AddShortUrl
QueryShortUrl IP IPv4 IPv6 CIDR MB Python Java Node.js curl PDF JPG PNG GIF DOC DOCX ICP
SMPP SMS PhoneNumber phone RAM Forbidden.RAM Permits App MO ms endpoint POST DingTalk
hour day on off never http https test system_id system_type transceiver
""".split())
"""Latin words a Chinese page may show: names of products, formats, protocols and API actions
(Alibaba's Chinese console writes them so), and values a person types (``hour``, ``on``)."""

_LATIN_ALLOWED_PATTERNS = re.compile(
    r"^(isv|isp)\.[A-Z_]+$|^PIGEON_[A-Z_]+$|^SMS_\d+$|^[A-Z][A-Z0-9_]*_[A-Z0-9_]+$|"
    r"^\d|^[A-Za-z]$")

_TEXTS = """(args) => {
  const skip = "script,style,template,code,pre,kbd,samp,[translate=no]";
  const own = document.documentElement.lang;
  const foreign = (el) => { const tagged = el.closest("[lang]"); return tagged && tagged.lang !== own; };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!el || el.closest(skip) || foreign(el)) continue;
    const text = walker.currentNode.textContent.replace(/\\s+/g, " ").trim();
    if (text) out.push(text);
  }
  document.querySelectorAll("[placeholder],[aria-label],[title],img[alt]").forEach((el) => {
    if (el.closest(skip) || foreign(el)) return;
    for (const name of ["placeholder", "aria-label", "title", "alt"]) {
      const value = el.getAttribute(name);
      if (value) out.push(value);
    }
  });
  if (document.title) out.push(document.title);
  return out;
}"""

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.'’-]*[A-Za-z0-9]|[A-Za-z]")
_NOISE = re.compile(r"\S+@\S+|https?://\S+|\b\d{4}-\d{2}-\d{2}\b|\$\{[^}]*\}|"
                    r"\b(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{8,}\b")
"""Addresses, dates, ${variables} and identifiers (AccessKey ids, BizIds): data in any
language."""


def texts(page) -> list[str]:
    """The page's own words: visible and hidden text, placeholders, labels, titles."""
    return page.evaluate(_TEXTS)


def language_problems(page, tag: str, data: tuple[str, ...] = ()) -> list[str]:
    """Strings of the page that are not in the language ``tag`` (zh-CN: Latin words outside
    :data:`ALLOWED_LATIN`; en-US: Chinese characters), ``data`` (what the test typed) aside."""
    problems = []
    for text in texts(page):
        rest = text
        for known in sorted(data, key=len, reverse=True):
            rest = rest.replace(known, " ")
        rest = _NOISE.sub(" ", rest)
        if tag.startswith("zh"):
            words = [w.rstrip(".") for w in _LATIN_WORD.findall(rest)]
            bad = [w for w in words if w not in ALLOWED_LATIN
                   and not _LATIN_ALLOWED_PATTERNS.match(w)]
            if bad:
                problems.append(f"{text!r}: {' '.join(bad)}")
        elif _CJK.search(rest):
            problems.append(repr(text))
    return problems


def raw_names(page) -> list[str]:
    everything = " | ".join(texts(page))
    return [name for name in RAW_NAMES if name in everything]


def overflow(page) -> int:
    """How many CSS pixels the page is wider than its viewport (0: it fits)."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def axe_script() -> Path:
    """axe-core's browser build (tests/peers/axe), installed once per lock file."""
    return peers.node_modules("axe", "axe-core") / "axe-core" / "axe.min.js"


def axe_violations(page) -> list[str]:
    """WCAG 2 A and AA violations axe-core finds on the page (axe must have been added to
    the browser context: ``context.add_init_script(path=axe_script())``)."""
    found = page.evaluate("""async () => {
      const result = await axe.run(document, {runOnly: {type: "tag",
        values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, resultTypes: ["violations"]});
      return result.violations.map((v) => v.id + ": " + v.help + " — " +
        v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", "));
    }""")
    return found


def check(page, tag: str, data: tuple[str, ...] = (), *, accessibility: bool = True) -> None:
    """Every check at once, on the page as it is now; fails naming the page and what is
    wrong."""
    where = page.url
    assert page.evaluate("() => document.documentElement.lang") == tag, where
    problems = [f"untranslated {p}" for p in language_problems(page, tag, data)]
    problems += [f"raw name {n!r}" for n in raw_names(page)]
    wider = overflow(page)
    if wider > 0:
        problems.append(f"{wider}px wider than the viewport")
    if accessibility:
        problems += [f"axe {v}" for v in axe_violations(page)]
    assert not problems, f"{where}:\n  " + "\n  ".join(problems)
