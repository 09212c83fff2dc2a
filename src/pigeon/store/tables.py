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

# Proof files uploaded with applications (AddSmsSign's SignFileList, …), kept in the database
# so that every node of a PostgreSQL deployment can show them to reviewers.
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

# Reports waiting to be delivered to tenants (SmsReport, SmsUp, SignSmsReport,
# TemplateSmsReport), payloads in the documented push shape.  The reports worker delivers them.
report_events = Table(
    "report_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("type", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    _created(),
    Index("ix_report_events_account", "account_id", "type", "id"),
)
