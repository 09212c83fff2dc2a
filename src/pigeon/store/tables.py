"""Tables.  SQLAlchemy Core, the same on SQLite and PostgreSQL; Alembic migrations create them.

Every tenant-owned row carries ``account_id`` and every query on it filters by it: that is how
one tenant's names and ids never reach another's data.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC on every backend, returned timezone-aware (UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC time")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


def _created() -> Column:
    return Column("created_at", UTCDateTime(), nullable=False)


accounts = Table(
    "accounts",
    metadata,
    # Alibaba account UIDs are 16-digit numbers; they also name the receipt queues.
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
    Column("status", String(16), nullable=False, default="active"),  # active | suspended
    _created(),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("id", String(64), primary_key=True),  # the AccessKeyId
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("secret", Text, nullable=False),  # encrypted; see pigeon.store.secrets
    Column("status", String(16), nullable=False, default="enabled"),  # enabled | disabled
    _created(),
)

# Review tickets: Alibaba's OrderId / WorkOrderId.  One row per submission of a
# qualification, signature or template; every decision is recorded here (who, when, why).
reviews = Table(
    "reviews",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # qualification | signature | template
    Column("subject_id", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # pending | approved | rejected | withdrawn
    Column("submitted_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=True),  # when the automatic reviewer may decide
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("decided_by", String(100), nullable=True),
    Column("reason", Text, nullable=True),
    Index("ix_reviews_pending", "status", "due_at"),
    Index("ix_reviews_subject", "kind", "subject_id"),
)

qualifications = Table(
    "qualifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),  # QualificationGroupId
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("name_key", String(100), nullable=False),
    Column("company_name", String(150), nullable=False),
    Column("legal_person_name", String(50), nullable=False),
    Column("use_by_self", Boolean, nullable=False),
    Column("whether_share", Boolean, nullable=False),
    # INIT (under review) | PASS | NOT_PASS | NOT_FINISH | CANCEL  (QuerySmsQualificationRecord)
    Column("state", String(16), nullable=False),
    Column("order_id", BigInteger, nullable=True),  # the current review ticket
    Column("details", JSON, nullable=False),  # every other submitted field, by wire name
    Column("audit_time", UTCDateTime(), nullable=True),
    Column("audit_remark", Text, nullable=True),
    _created(),
    UniqueConstraint("account_id", "name_key", name="uq_qualifications_account_name"),
)

signatures = Table(
    "signatures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("name_key", String(64), nullable=False),  # case-insensitive uniqueness (spec §8.10)
    Column("source", Integer, nullable=False),  # SignSource
    Column("sign_type", Integer, nullable=False),  # 0 OTP only, 1 general
    Column("qualification_id", BigInteger, nullable=True),
    Column("legacy", Boolean, nullable=False, default=False),  # created by AddSmsSign
    Column("remark", Text, nullable=True),
    Column("third_party", Boolean, nullable=False, default=False),
    Column("authorization_letter_id", BigInteger, nullable=True),
    Column("trademark_id", BigInteger, nullable=True),
    Column("app_icp_record_id", BigInteger, nullable=True),
    Column("apply_scene", Text, nullable=True),
    Column("more_data", JSON, nullable=True),  # list of file keys
    Column("status", Integer, nullable=False),  # 0 reviewing, 1 approved, 2 rejected, 10 cancelled
    Column("order_id", BigInteger, nullable=True),
    Column("reject_info", Text, nullable=True),
    Column("audit_date", UTCDateTime(), nullable=True),
    Column("extension_code", String(12), nullable=False),  # the signature's MO sub-port
    _created(),
    UniqueConstraint("account_id", "name_key", name="uq_signatures_account_name"),
    UniqueConstraint("extension_code", name="uq_signatures_extension_code"),
)

# Carrier real-name registration of a signature, one row per mainland carrier (spec §3.6).
sign_registrations = Table(
    "sign_registrations",
    metadata,
    Column("signature_id", BigInteger, ForeignKey("signatures.id", ondelete="CASCADE"),
           primary_key=True),
    Column("carrier", String(16), primary_key=True),  # mobile | unicom | telecom
    Column("status", Integer, nullable=False),  # RegisterStatus: -1 registering, 3 done, 0 failed…
    Column("reason_code", String(40), nullable=False),
    Column("reason_text", Text, nullable=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=True),  # when the simulated carrier completes it
    Column("completed_at", UTCDateTime(), nullable=True),
    Index("ix_sign_registrations_due", "status", "due_at"),
)

templates = Table(
    "templates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(32), nullable=False, unique=True),  # SMS_<digits>
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("content", Text, nullable=False),
    Column("type", Integer, nullable=False),  # 0 OTP, 1 notification, 2 promotional, 3 intl
    Column("intl_type", Integer, nullable=True),
    Column("related_sign_name", String(64), nullable=True),
    Column("variable_attribute", JSON, nullable=True),  # TemplateRule
    Column("legacy", Boolean, nullable=False, default=False),
    Column("remark", Text, nullable=True),
    Column("apply_scene", Text, nullable=True),
    Column("traffic_driving", Text, nullable=True),
    Column("more_data", JSON, nullable=True),
    Column("status", Integer, nullable=False),
    Column("order_id", BigInteger, nullable=True),
    Column("reject_info", Text, nullable=True),
    Column("audit_date", UTCDateTime(), nullable=True),
    _created(),
)

# Supporting documents of signatures (CreateSmsAuthorizationLetter, CreateSmsTrademark,
# CreateSmsAppIcpRecord), reviewed like qualifications.  kind: letter | trademark | app_icp; the
# id is the AuthorizationLetterId / TrademarkId / AppIcpRecordId.  ``name`` is what the document
# names (the letter's name, the trademark, the app or site); every submitted field is kept by
# wire name in ``details``.
sign_documents = Table(
    "sign_documents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", String(100), nullable=False),
    Column("state", String(16), nullable=False),  # INIT (under review) | PASS | NOT_PASS
    Column("order_id", BigInteger, nullable=True),  # the current review ticket
    Column("details", JSON, nullable=False),
    Column("audit_time", UTCDateTime(), nullable=True),
    Column("audit_remark", Text, nullable=True),
    _created(),
    Index("ix_sign_documents_account", "account_id", "kind", "id"),
)

# Tags on templates (TagResources, ResourceType TEMPLATE): one value per key and template.
template_tags = Table(
    "template_tags",
    metadata,
    Column("template_id", BigInteger, primary_key=True, autoincrement=False),
    Column("key", String(128), primary_key=True),
    Column("value", String(128), nullable=False),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    _created(),
    Index("ix_template_tags_account", "account_id", "key", "value"),
)

# Proof files uploaded with applications (AddSmsSign's SignFileList, OSS PostObject uploads …),
# kept in the database so that every node of a PostgreSQL deployment can show them to reviewers.
files = Table(
    "files",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("owner_kind", String(16), nullable=False),
    Column("owner_id", BigInteger, nullable=False),
    Column("suffix", String(8), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    # The OSS object key of an upload (owner_kind "upload", owner_id its account; POST /oss):
    # how qualifications and MoreData name their files.  NULL for files of other owners.
    Column("key", String(512), nullable=True, index=True),
    _created(),
    Index("ix_files_owner", "owner_kind", "owner_id"),
)

# Verification codes sent to a qualification's administrator phone (RequiredPhoneCode).
phone_codes = Table(
    "phone_codes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("code", String(8), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used", Boolean, nullable=False, default=False),
    Column("failures", Integer, nullable=False, default=0),  # wrong guesses at this code
    _created(),
    Index("ix_phone_codes_lookup", "account_id", "phone"),
)

# What the simulator's virtual handsets have received (and platform notices such as
# verification codes).  The carrier simulator writes here; `pigeon handset inbox` reads.
handset_messages = Table(
    "handset_messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("phone", String(20), nullable=False),
    Column("sender", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Index("ix_handset_messages_phone", "phone", "id"),
)

# Reports for tenants (SmsReport, SmsUp, SignSmsReport, TemplateSmsReport), payloads in the
# documented push shape, written in the same transaction as the change they report.  The
# reports worker delivers each by the tenant's settings: HTTP push (state pending → delivered,
# or failed after the last retry, kept and visible) or queue mode (moved into queue_messages).
report_events = Table(
    "report_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("type", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", String(12), nullable=False, default="pending"),
    # pending | delivered | queued | failed | skipped (reports of this type are off)
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", UTCDateTime(), nullable=True),
    _created(),
    Index("ix_report_events_account", "account_id", "type", "id"),
    Index("ix_report_events_due", "state", "next_attempt_at"),
)

# How each tenant receives each report type: mode http (with url), queue, or off.
report_settings = Table(
    "report_settings",
    metadata,
    Column("account_id", BigInteger, ForeignKey("accounts.id"), primary_key=True),
    Column("type", String(32), primary_key=True),
    Column("mode", String(8), nullable=False),  # http | queue | off
    Column("url", Text, nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Every HTTP push attempt, for operators and the console ("last delivery attempts").
report_attempts = Table(
    "report_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("type", String(32), nullable=False),
    Column("url", Text, nullable=False),
    Column("reports", Integer, nullable=False),  # how many reports the request carried
    Column("status_code", Integer, nullable=True),
    Column("ok", Boolean, nullable=False),
    Column("error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=False),
    _created(),
    Index("ix_report_attempts_account", "account_id", "type", "id"),
)

# Queue mode: tenant queues `Alicom-Queue-<AccountId>-<MessageType>` served by the
# MNS-compatible endpoint.  A received message is invisible until visible_at; deleting it by
# its receipt handle removes it for good.
queue_messages = Table(
    "queue_messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("queue", String(128), nullable=False),
    Column("body", Text, nullable=False),  # the report as JSON text
    Column("enqueued_at", UTCDateTime(), nullable=False),
    Column("visible_at", UTCDateTime(), nullable=False),
    Column("receipt_handle", String(64), nullable=True),
    Column("dequeue_count", Integer, nullable=False, default=0),
    Column("first_dequeued_at", UTCDateTime(), nullable=True),
    Index("ix_queue_messages_ready", "queue", "visible_at", "id"),
    Index("ix_queue_messages_handle", "receipt_handle"),
)

# Temporary credentials handed out by Dybaseapi QueryTokenForMnsQueue for the queues.
queue_tokens = Table(
    "queue_tokens",
    metadata,
    Column("access_key_id", String(64), primary_key=True),  # STS.…
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("secret", Text, nullable=False),  # encrypted like AccessKey secrets
    Column("security_token", String(128), nullable=False),  # SHA-256 of the token
    Column("message_type", String(32), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    _created(),
)

# -- sending ---------------------------------------------------------------------------------

# One row per recipient of SendSms / SendBatchSms.  A row exists only once the message was
# accepted (committed before the BizId is answered); the dispatcher moves it on:
#   queued → sending (claimed by a dispatcher) → sent (carrier accepted, waiting for the
#   receipt) → delivered | failed.
messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("biz_id", String(32), nullable=False),  # shared by every recipient of one call
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("phone", String(20), nullable=False),  # wire form: 11 digits, or CC + number
    Column("country_code", Integer, nullable=False),
    Column("carrier", String(16), nullable=True),  # mobile | unicom | telecom | broadnet
    Column("signature_id", BigInteger, nullable=False),
    Column("sign_name", String(64), nullable=False),
    Column("template_id", BigInteger, nullable=False),
    Column("template_code", String(32), nullable=False),
    Column("template_type", Integer, nullable=False),
    Column("params", JSON, nullable=True),
    Column("content", Text, nullable=False),  # as delivered: 【签名】 + rendered text
    Column("segments", Integer, nullable=False),
    Column("encoding", String(8), nullable=False),  # mainland | gsm7 | ucs2
    Column("extend_code", String(20), nullable=True),  # signature's code + SmsUpExtendCode
    Column("out_id", String(256), nullable=True),
    Column("status", String(12), nullable=False),
    Column("err_code", String(64), nullable=True),  # DELIVERED or the failure code
    Column("err_msg", Text, nullable=True),
    Column("connector", String(64), nullable=True),
    Column("carrier_message_id", String(72), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    Column("claimed_at", UTCDateTime(), nullable=True),
    Column("claimed_by", BigInteger, nullable=True),  # the node (nodes.id) that claimed it
    Column("price", Integer, nullable=False, default=0),  # milli-CNY per segment
    Column("charged", Boolean, nullable=False, default=True),  # False once refunded
    # The caller's IP address (the API client's; NULL for `pigeon send`): SMS-pumping
    # detection looks for one caller fanning out (see core/alert_rules.py).
    Column("source_ip", String(45), nullable=True),
    _created(),  # accepted
    Column("sent_at", UTCDateTime(), nullable=True),  # submitted to the carrier (SendDate)
    Column("done_at", UTCDateTime(), nullable=True),  # final receipt (ReceiveDate)
    Index("ix_messages_dispatch", "status", "id"),
    Index("ix_messages_lookup", "account_id", "phone", "created_at"),
    # A signature's messages by extension code (QueryExtCodeSign's counts).  Not by phone: the
    # per-number limits read ix_messages_lookup — one index in the phone's random order is
    # enough to write into (every message lands on a random page of each such index).
    Index("ix_messages_signature", "signature_id", "extend_code"),
    Index("ix_messages_account_day", "account_id", "created_at"),
    Index("ix_messages_biz", "biz_id"),
    Index("ix_messages_carrier_id", "connector", "carrier_message_id"),
)

# Money is counted in milli-CNY (0.045 CNY = 45) so that prices and balances stay integers.
balances = Table(
    "balances",
    metadata,
    Column("account_id", BigInteger, ForeignKey("accounts.id"), primary_key=True),
    Column("amount", BigInteger, nullable=False, default=0),  # milli-CNY
)

# Price per segment by template type (0 OTP, 1 notification, 2 promotional, 3 international);
# account_id NULL is the platform default, a row with an account overrides it.
prices = Table(
    "prices",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=True),
    Column("template_type", Integer, nullable=False),
    Column("price", Integer, nullable=False),  # milli-CNY per segment
    UniqueConstraint("account_id", "template_type", name="uq_prices_account_type"),
)

# Prepaid resource packages: consumed before the balance, by type, earliest expiry first.
packages = Table(
    "packages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # general | otp | notification | promotional
    Column("total", Integer, nullable=False),  # segments
    Column("remaining", Integer, nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    _created(),
    Index("ix_packages_account", "account_id", "expires_at"),
)

# Every movement of money or package quota: charges at acceptance, refunds when the carrier
# reports failure, top-ups and packages added by operators.
ledger = Table(
    "ledger",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("message_id", BigInteger, nullable=True),
    Column("kind", String(16), nullable=False),  # charge | refund | topup | package
    Column("package_id", BigInteger, nullable=True),  # NULL: the balance
    Column("units", Integer, nullable=False, default=0),  # segments taken (-) or returned (+)
    Column("amount", BigInteger, nullable=False, default=0),  # milli-CNY, − for charges
    Column("note", Text, nullable=True),
    _created(),
    Index("ix_ledger_account", "account_id", "id"),
    Index("ix_ledger_message", "message_id"),
)

# Per-tenant sending settings: account caps and tightened per-number limits (NULL: default).
sending_settings = Table(
    "sending_settings",
    metadata,
    Column("account_id", BigInteger, ForeignKey("accounts.id"), primary_key=True),
    Column("day_limit", Integer, nullable=True),  # messages per platform day
    Column("month_limit", Integer, nullable=True),
    Column("otp_per_minute", Integer, nullable=True),
    Column("otp_per_hour", Integer, nullable=True),
    Column("otp_per_day", Integer, nullable=True),
    Column("other_per_day", Integer, nullable=True),  # notification and promotional
)

# Numbers exempt from the per-number limits (tenant whitelist), and the tenant's bound test
# numbers (at most 5; "Try the service").
number_lists = Table(
    "number_lists",
    metadata,
    Column("account_id", BigInteger, ForeignKey("accounts.id"), primary_key=True),
    Column("list", String(16), primary_key=True),  # whitelist | test
    Column("phone", String(20), primary_key=True),
    _created(),
)

# Addresses and CIDR ranges an account's AccessKeys may call the API from (console: Security);
# none: any address.  Read with the key on every key-cache miss (core/source_ip.py).
ip_allow_list = Table(
    "ip_allow_list",
    metadata,
    Column("account_id", BigInteger, ForeignKey("accounts.id"), primary_key=True),
    Column("network", String(64), primary_key=True),  # canonical: 203.0.113.0/24, ::1/128
    _created(),
)

# Batch Sending (console): a tenant's uploaded file of numbers and variables, checked at upload
# (draft), then sent by the batch worker in chunks through the send path (services/batches.py):
#   draft → scheduled (scheduled_at, "send now" is due at once) → sending → done | cancelled.
batches = Table(
    "batches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("file_format", String(16), nullable=False),  # CSV (UTF-8) | CSV (GBK) | XLSX …
    Column("sign_name", String(64), nullable=False),
    Column("template_code", String(32), nullable=False),
    Column("template_type", Integer, nullable=False),
    Column("status", String(12), nullable=False),
    Column("total", Integer, nullable=False),  # data rows in the file
    Column("valid", Integer, nullable=False),  # rows that passed the checks: to be sent
    Column("segments", Integer, nullable=False),  # billing segments of the valid rows
    Column("sent", Integer, nullable=False, default=0),  # rows accepted (a BizId)
    Column("failed", Integer, nullable=False, default=0),  # rows the send path refused
    Column("ignored_columns", JSON, nullable=True),  # headers that are no template variable
    Column("scheduled_at", UTCDateTime(), nullable=True),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),  # done or cancelled
    _created(),
    Index("ix_batches_account", "account_id", "id"),
    Index("ix_batches_due", "status", "scheduled_at"),
)

# One row per data row of a batch's file.  state: invalid (refused at upload, never sent) |
# pending | sent (biz_id) | failed (err_code, err_msg from the send path) | cancelled.
batch_rows = Table(
    "batch_rows",
    metadata,
    Column("batch_id", BigInteger, ForeignKey("batches.id", ondelete="CASCADE"),
           primary_key=True),
    Column("line", Integer, primary_key=True),  # line in the file (the header is line 1)
    Column("phone", String(64), nullable=False),  # wire form once valid, else as written
    Column("params", JSON, nullable=True),  # TemplateParam of the row
    Column("content", Text, nullable=True),  # as it will be delivered (valid rows)
    Column("segments", Integer, nullable=True),
    Column("state", String(10), nullable=False),
    Column("err_code", String(64), nullable=True),
    Column("err_msg", Text, nullable=True),
    Column("biz_id", String(32), nullable=True),
    Index("ix_batch_rows_state", "batch_id", "state", "line"),
)

# Messages the carrier simulator has accepted and will report on (receipt due at due_at).
simulator_deliveries = Table(
    "simulator_deliveries",
    metadata,
    Column("message_id", BigInteger, primary_key=True),
    Column("carrier_message_id", String(72), nullable=False),
    Column("stat", String(16), nullable=False),  # DELIVRD | UNDELIV | REJECTD | EXPIRED …
    Column("err_code", String(64), nullable=False),  # DELIVERED or the code to report
    Column("due_at", UTCDateTime(), nullable=False),
    Index("ix_simulator_deliveries_due", "due_at"),
)

# MO messages: replies from handsets, matched to a tenant and signature by extension code.
mo_messages = Table(
    "mo_messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=True),  # NULL: no match
    Column("signature_id", BigInteger, nullable=True),
    Column("phone", String(20), nullable=False),
    Column("dest_code", String(20), nullable=False),
    Column("content", Text, nullable=False),
    Column("connector", String(64), nullable=True),
    _created(),
    Index("ix_mo_messages_account", "account_id", "id"),
)


# Extension codes (AddExtCodeSign …): every code whose replies belong to a signature.  The
# signature's own ``extension_code`` — the one its messages are sent with — is one of them;
# ``source`` says who chose it: ``auto`` (Pigeon, at CreateSmsSign) or ``custom`` (the tenant).
ext_codes = Table(
    "ext_codes",
    metadata,
    Column("code", String(12), primary_key=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("signature_id", BigInteger, nullable=False, index=True),
    Column("source", String(8), nullable=False),  # auto | custom
    _created(),
)

# Short URLs served by Pigeon's redirector (GET /s/<code>): AddShortUrl's (kind ``short``,
# named, for every reader) and CreateSmartShortUrl's (kind ``smart``, one per phone number).
# ``short_url`` is the link as it was answered, kept so that it never changes.
short_urls = Table(
    "short_urls",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("code", String(16), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),  # short | smart
    Column("source_url", Text, nullable=False),
    Column("short_url", Text, nullable=False),
    Column("name", String(64), nullable=True),  # ShortUrlName
    Column("phone", String(20), nullable=True),  # the recipient of a smart link
    Column("out_id", String(256), nullable=True),
    Column("expires_at", UTCDateTime(), nullable=False),
    _created(),
    Index("ix_short_urls_account", "account_id", "kind", "created_at"),
)

# Every visit of a short URL: the page views, and the visitor (a digest of the address and the
# browser) for the unique visitors.
short_url_clicks = Table(
    "short_url_clicks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("short_url_id", BigInteger, nullable=False),
    Column("visitor", String(32), nullable=False),
    _created(),
    Index("ix_short_url_clicks_url", "short_url_id", "id"),
)


# -- carriers --------------------------------------------------------------------------------

# Carrier connections configured by operators (`pigeon connector add`).  The simulator is a
# connector like the others.  Passwords are encrypted like AccessKey secrets.
connectors = Table(
    "connectors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("protocol", String(16), nullable=False),  # simulator | smpp
    Column("config", JSON, nullable=False),  # host, port, system_id, tps, window, binds…
    Column("secret", Text, nullable=True),  # encrypted password
    Column("enabled", Boolean, nullable=False, default=True),
    _created(),
)

# Routing rules, tried in priority order (lowest first): the first rule whose conditions all
# match (NULL matches anything) and whose connector is up takes the message; `fallback` names
# the connector to use when the rule's own connector is down.
routes = Table(
    "routes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("priority", Integer, nullable=False),
    Column("connector", String(64), nullable=False),
    Column("fallback", String(64), nullable=True),
    Column("carrier", String(16), nullable=True),  # mobile | unicom | telecom | broadnet
    Column("country_code", Integer, nullable=True),
    Column("template_type", Integer, nullable=True),
    _created(),
)


# -- console ---------------------------------------------------------------------------------

# People who sign in to the web console: a tenant's users (account_id set) see that account
# only; operators (account_id NULL) review submissions and see every tenant.  Passwords are
# Argon2 hashes (argon2-cffi's encoded form, parameters included).
console_users = Table(
    "console_users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=True, index=True),
    Column("email", String(254), nullable=False, unique=True),  # stored lower-case
    Column("password_hash", Text, nullable=False),
    _created(),
)

# Signed-in console sessions.  The cookie carries a random token; only its SHA-256 is stored,
# so a copy of the database opens no session.  ``csrf`` is the token every form posts back.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # SHA-256 (hex) of the cookie's token
    Column("user_id", BigInteger, ForeignKey("console_users.id"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    _created(),
)

# Failed console sign-ins, by email and by client address: too many in a short time and
# further attempts are refused for a while (every node sees the same count).
console_sign_in_failures = Table(
    "console_sign_in_failures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False),
    Column("client", String(64), nullable=False),
    _created(),
    Index("ix_console_sign_in_failures_email", "email", "created_at"),
    Index("ix_console_sign_in_failures_client", "client", "created_at"),
)

# What each running dispatcher's connectors are doing (`pigeon connector list`), one row per
# connector and node, rewritten every few seconds by that node's dispatcher; a row not updated
# for a while belongs to a node that stopped.
connector_states = Table(
    "connector_states",
    metadata,
    Column("connector", String(64), primary_key=True),
    Column("node", String(128), primary_key=True),  # host:pid:start of the dispatcher
    Column("state", JSON, nullable=False),  # the connector's state(): binds, throughput, queue…
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Receipts that matched no message when they arrived: SMPP lets a receipt overtake the
# submit_sm_resp, and the dispatcher records a carrier message id only after the whole batch's
# answers are in.  Matched when the id is recorded (dispatch.record) or by the dispatcher's
# sweep; dropped after an hour (a message whose submission was never recorded).
early_receipts = Table(
    "early_receipts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("connector", String(64), nullable=False),
    Column("carrier_message_id", String(72), nullable=False),
    Column("delivered", Boolean, nullable=False),
    Column("err_code", String(64), nullable=False),
    Column("err_msg", Text, nullable=True),
    Column("done_at", UTCDateTime(), nullable=False),
    Column("untracked", Boolean, nullable=False),  # one part's receipt (see carriers.base)
    Column("received_at", UTCDateTime(), nullable=False),
    Index("ix_early_receipts_carrier_id", "connector", "carrier_message_id"),
)

# The carrier's id of every part of a multipart message, so that part receipts still find
# their message when the connector no longer tracks it (after a restart, or a receipt that
# arrives on another node's bind).  Deleted when the message is final.
message_parts = Table(
    "message_parts",
    metadata,
    Column("connector", String(64), primary_key=True),
    Column("part_id", String(72), primary_key=True),  # the SMSC's message_id of the part
    Column("message_id", BigInteger, nullable=False, index=True),
    Column("delivered", Boolean, nullable=False, default=False),
    _created(),
)


# -- alerts ----------------------------------------------------------------------------------

# Who is told: a tenant's contacts (account_id set) or the operators' (account_id NULL).
alert_contacts = Table(
    "alert_contacts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=True),
    Column("name", String(64), nullable=False),
    Column("phone", String(20), nullable=True),  # wire form
    Column("email", String(254), nullable=True),
    _created(),
    Index("ix_alert_contacts_account", "account_id", "id"),
)

# How they are told: email / sms (to contacts), dingtalk (a custom robot's webhook and its
# signing secret), webhook (a JSON POST).  account_id NULL: the operators' channels, which get
# platform alerts.  Secrets are encrypted like AccessKey secrets.
alert_channels = Table(
    "alert_channels",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=True),
    Column("kind", String(16), nullable=False),  # email | sms | dingtalk | webhook
    Column("name", String(64), nullable=False),
    Column("config", JSON, nullable=False),  # url, contact ids … (see pigeon.alerts.channels)
    Column("secret", Text, nullable=True),  # encrypted signing secret
    Column("enabled", Boolean, nullable=False, default=True),
    _created(),
    Index("ix_alert_channels_account", "account_id", "id"),
)

# A tenant's alert rules (core/alert_rules.py): kind, parameters, quiet period, and the
# channels told (NULL: every channel of the account).
alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("params", JSON, nullable=False),
    Column("quiet_seconds", Integer, nullable=False),
    Column("channels", JSON, nullable=True),  # list of alert_channels ids
    Column("enabled", Boolean, nullable=False, default=True),
    _created(),
    Index("ix_alert_rules_account", "account_id", "id"),
)

# Every alert: what fired (rule or platform check, subject), the figures, and whether the
# incident is still open (resolved_at NULL).  account_id NULL: a platform alert for operators.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=True),
    Column("rule_id", BigInteger, nullable=True),  # NULL: a platform check
    Column("kind", String(32), nullable=False),
    Column("subject", String(128), nullable=False),  # the incident: balance, range:1380013 …
    Column("title", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("figures", JSON, nullable=False),
    Column("fired_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("protection_id", BigInteger, nullable=True),
    Index("ix_alerts_account", "account_id", "id"),
    Index("ix_alerts_incident", "rule_id", "kind", "subject", "id"),
)

# One row per alert and channel: who was told, whether it worked, the retries.
# state: pending (next_attempt_at due) → sent | failed (after the last retry).
alert_notifications = Table(
    "alert_notifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("alert_id", BigInteger, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("channel_id", BigInteger, nullable=False),
    Column("channel_kind", String(16), nullable=False),
    # fired: the alert itself; resolved: "it is over", told once the incident has settled.
    Column("event", String(12), nullable=False, default="fired", server_default="fired"),
    Column("target", Text, nullable=True),  # who was told: addresses, numbers, the URL
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("sent_at", UTCDateTime(), nullable=True),
    _created(),
    Index("ix_alert_notifications_due", "state", "next_attempt_at"),
)

# SMS-pumping protections: OTP to a number range or foreign country blocked, or the
# account's OTP throttled.  Active while lifted_at is NULL and expires_at (if any) is ahead.
otp_protections = Table(
    "otp_protections",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # range | country | throttle
    Column("scope", String(32), nullable=True),  # the range's digits, the country code
    Column("per_minute", Integer, nullable=True),  # throttle: OTP messages per minute
    Column("alert_id", BigInteger, nullable=True),
    Column("reason", Text, nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("lifted_at", UTCDateTime(), nullable=True),
    Column("lifted_by", String(100), nullable=True),
    _created(),
    Index("ix_otp_protections_active", "account_id", "lifted_at"),
)

# SmsConversionIntl: a tenant's word that the user of a message completed (Delivered true) or
# did not complete its verification.  One row per message (the latest report wins); the
# otp_pumping rule's "never verified" pattern reads them (core/pumping.py).
message_conversions = Table(
    "message_conversions",
    metadata,
    Column("message_id", BigInteger, primary_key=True, autoincrement=False),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("message_at", UTCDateTime(), nullable=False),  # when the message was accepted
    Column("delivered", Boolean, nullable=False),  # converted: the code was verified
    Column("conversion_time", UTCDateTime(), nullable=True),  # ConversionTime, if given
    _created(),  # reported (the first report)
    Column("updated_at", UTCDateTime(), nullable=False),  # the latest report
    Index("ix_message_conversions_account", "account_id", "message_at"),
)

# Since when the alert evaluator has seen each enabled connector down, kept across restarts
# and shared by every evaluator on the database (the "connector down" grace period).
connector_down_since = Table(
    "connector_down_since",
    metadata,
    Column("connector", String(64), primary_key=True),
    Column("since", UTCDateTime(), nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),  # the last pass that saw it down
)


# -- the cluster -------------------------------------------------------------------------------

# Every running Pigeon process (an API process, a worker, a CLI that dispatches), with its last
# heartbeat.  A node whose heartbeat stopped is dead: what it had claimed goes back to the queue
# (services/nodes.py).
nodes = Table(
    "nodes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),  # host:pid, for people
    Column("started_at", UTCDateTime(), nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
    # Never reuse a dead node's id (SQLite would, for the highest): its claims are fenced by it.
    sqlite_autoincrement=True,
)

# Who runs a job that must run once in the cluster (a singleton loop, the binds of a
# connector), and until when: renewed by its owner, taken over by another node once it has
# expired (services/leases.py).
leases = Table(
    "leases",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("owner", BigInteger, nullable=False),  # nodes.id
    Column("expires_at", UTCDateTime(), nullable=False),
)

# The signature nonces accepted within the signature window, so that a signed request is
# accepted once, on whichever node and across restarts (services/nonces.py).  Keyed by a
# digest of (AccessKeyId, nonce): a row costs the same whatever the nonce.
nonces = Table(
    "nonces",
    metadata,
    Column("digest", LargeBinary(16), primary_key=True),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index("ix_nonces_expires_at", "expires_at"),
)

# The audit trail: every administrative change (AccessKeys, accounts, limits, prices, money,
# connectors and routes, users and sign-ins, reviews …) — who, from where, when, the state
# before and after — as one hash chain: each entry's ``hash`` covers its fields and the
# previous entry's hash (``prev_hash``), in the order of ``seq`` (services/audit.py,
# core/audit_chain.py).
audit_entries = Table(
    "audit_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("seq", BigInteger, nullable=False, unique=True),  # 1, 2, 3 … : the chain's order
    Column("at", UTCDateTime(), nullable=False),
    Column("actor_kind", String(16), nullable=False),  # cli | console | api | system
    Column("actor", String(255), nullable=False),  # OS user, console email, AccessKeyId, worker
    Column("source", String(255), nullable=False),  # host, IP address, node
    Column("account_id", BigInteger, nullable=True),  # the tenant concerned; NULL: the platform
    Column("action", String(64), nullable=False),  # e.g. account.suspend, route.add
    Column("target", String(255), nullable=False),  # e.g. account:12, connector:smsc-a
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_entries_account", "account_id", "seq"),
    Index("ix_audit_entries_at", "at"),
)

# How many messages an account sent in a day and in a month (platform time), for its day and
# month caps: counting them in ``messages`` grows with the account's volume.  A row is made the
# first time a cap is checked in its period (counted from ``messages`` once), and every accept
# adds to the rows of its period that exist (services/sending.py).
account_counts = Table(
    "account_counts",
    metadata,
    Column("account_id", BigInteger, ForeignKey("accounts.id"), primary_key=True),
    Column("period", String(8), primary_key=True),  # day | month
    Column("starts_at", UTCDateTime(), primary_key=True),  # local midnight, as UTC
    Column("messages", BigInteger, nullable=False),
)
