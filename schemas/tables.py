"""The one database schema (SQLAlchemy Core tables), shared by SQLite and PostgreSQL.

Conventions that the rest of the code relies on:
- money columns are BigInteger bani (``amount``, ``amount_due``); never Numeric, never float;
- allocations are append-only: a correction or reversal is a compensating row that points at
  the row it compensates (``reverses_id``); nothing in this table is updated or deleted;
- a payment's identity is (source, external_id), enforced by a unique constraint, which is
  what makes every ingest and every API post idempotent under concurrency;
- raw bytes are kept on disk, content-addressed by sha256 (``raw_files``), before parsing.

Alembic migrations in schemas/migrations/ are the only way the schema reaches a database.
Longer than our ~450-line modules on purpose: the whole schema in one file, read together.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
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
    false,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite only autoincrements INTEGER


def _id() -> Column:
    return Column("id", Id, primary_key=True, autoincrement=True)


def _ts(name: str, nullable: bool = False) -> Column:
    return Column(name, DateTime(timezone=True), nullable=nullable)


# --- invoice register -------------------------------------------------------------------------

providers = Table(
    "providers",
    metadata,
    _id(),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("iban", String(34), nullable=False),
)

services = Table(
    "services",
    metadata,
    _id(),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
)

managers = Table(
    "managers",
    metadata,
    _id(),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    _id(),
    Column("account_no", String(16), nullable=False, unique=True),
    Column("manager_id", ForeignKey("managers.id"), nullable=False),
    Column("payer_name", String(200), nullable=False),
    Column("address", String(300), nullable=False),
    Column("status", String(8), nullable=False),
    CheckConstraint("status IN ('open', 'closed')", name="status"),
)

register_imports = Table(
    "register_imports",
    metadata,
    _id(),
    Column("periods", String(200), nullable=False),  # comma-separated YYYY-MM
    Column("sha256", String(64), nullable=False),  # over the register's files, in name order
    _ts("imported_at"),
    Column("invoices", Integer, nullable=False),
    Column("lines", Integer, nullable=False),
    Column("note", Text),
)

invoices = Table(
    "invoices",
    metadata,
    _id(),
    Column("invoice_no", String(32), nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("period", String(7), nullable=False),  # YYYY-MM
    Column("issued_on", Date, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("payment_ref", String(25), nullable=False),  # ISO 11649 RF reference
    # 'open' invoices take payments; a re-import that changes an invoice supersedes it with a
    # new version instead of rewriting what payments already reference.
    Column("status", String(12), nullable=False, default="open"),
    Column("import_id", ForeignKey("register_imports.id"), nullable=False),
    UniqueConstraint("invoice_no", "version", name="uq_invoices_no_version"),
    CheckConstraint("status IN ('open', 'superseded')", name="status"),
)
Index("ix_invoices_account", invoices.c.account_id)
Index("ix_invoices_payment_ref", invoices.c.payment_ref)

invoice_lines = Table(
    "invoice_lines",
    metadata,
    _id(),
    Column("invoice_id", ForeignKey("invoices.id"), nullable=False),
    Column("service_id", ForeignKey("services.id"), nullable=False),
    Column("provider_id", ForeignKey("providers.id"), nullable=False),
    Column("amount_due", BigInteger, nullable=False),  # bani; negative = credit carried
    UniqueConstraint("invoice_id", "service_id", "provider_id", name="uq_invoice_lines_key"),
)

# --- raw material kept before parsing --------------------------------------------------------

raw_files = Table(
    "raw_files",
    metadata,
    _id(),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("source", String(64), nullable=False),  # connector name, or 'cli'
    Column("filename", String(500), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("format", String(32)),
    # received -> applied | quarantined; a quarantined file keeps its reason and its bytes
    Column("status", String(12), nullable=False),
    Column("reason", Text),
    Column("records", Integer),
    _ts("received_at"),
    _ts("processed_at", nullable=True),
    CheckConstraint("status IN ('received', 'applied', 'quarantined')", name="status"),
)

# --- what the bank's statements say about themselves (balances), and where they disagree ------

#: One row per statement (camt Stmt / Rpt / Ntfctn block, MT940 :20: message) in an applied
#: file: its balances and booked sums as the file states them, for finance's daily report.
statements = Table(
    "statements",
    metadata,
    _id(),
    Column("raw_file_id", ForeignKey("raw_files.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # StatementKind: statement | report | ...
    Column("account_iban", String(64)),
    Column("statement_id", String(140)),  # the bank's id (camt Id, MT940 :20:)
    Column("sequence", String(35)),  # camt ElctrncSeqNb / MT940 :28C:
    Column("from_date", Date),
    Column("to_date", Date),
    Column("currency", String(3)),
    Column("opening_balance", BigInteger),  # signed bani; None when the file gives none
    Column("closing_balance", BigInteger),
    Column("credits", BigInteger, nullable=False),  # booked credits, bani
    Column("debits", BigInteger, nullable=False),
    Column("entry_count", Integer, nullable=False),
    Column("business_day", Date, nullable=False, index=True),
    _ts("created_at"),
)

#: A disagreement a file states about itself (balances, batch totals): the entries are
#: ingested, and finance acknowledges the finding before the day can close.
statement_findings = Table(
    "statement_findings",
    metadata,
    _id(),
    Column("raw_file_id", ForeignKey("raw_files.id"), nullable=False, index=True),
    Column("statement_id", ForeignKey("statements.id")),  # None: about the file as a whole
    Column("kind", String(32), nullable=False),  # FindingKind
    Column("expected", BigInteger),  # signed bani, what the file's own figures imply
    Column("actual", BigInteger),  # signed bani, what the file states
    Column("difference", BigInteger, nullable=False),  # actual - expected
    Column("detail", Text, nullable=False),
    Column("business_day", Date, nullable=False, index=True),
    _ts("created_at"),
    Column("acknowledged_by", String(64)),
    _ts("acknowledged_at", nullable=True),
    Column("ack_comment", Text),
)

agents = Table(
    "agents",
    metadata,
    _id(),
    Column("name", String(64), nullable=False, unique=True),
    Column("key_id", String(16), nullable=False, unique=True),  # public prefix of the key
    Column("key_hash", String(128), nullable=False),  # sha256 of the secret part, never the key
    Column("ip_allow", Text),  # comma-separated networks; empty = any
    Column("signing_secret", String(128)),  # HMAC secret when the agent signs requests
    Column("rate_per_minute", Integer, nullable=False, default=6000),
    Column("active", Boolean, nullable=False, default=True),
    _ts("created_at"),
    _ts("revoked_at", nullable=True),  # `gateway agents revoke`: active false from then on
)

# An agent's previous keys after `gateway agents rotate`, each valid until its grace ends.
agent_keys = Table(
    "agent_keys",
    metadata,
    _id(),
    Column("agent_id", ForeignKey("agents.id"), nullable=False),
    Column("key_id", String(16), nullable=False, unique=True),
    Column("key_hash", String(128), nullable=False),
    _ts("replaced_at"),
    _ts("valid_until"),
)
Index("ix_agent_keys_agent", agent_keys.c.agent_id)

api_requests = Table(
    "api_requests",
    metadata,
    _id(),
    Column("agent_id", ForeignKey("agents.id"), nullable=False),
    Column("method", String(8), nullable=False),
    Column("path", String(300), nullable=False),
    Column("body_sha256", String(64), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("status_code", Integer),
    _ts("received_at"),
)
Index("ix_api_requests_agent", api_requests.c.agent_id, api_requests.c.received_at)

# --- payments and their allocation -----------------------------------------------------------

payments = Table(
    "payments",
    metadata,
    _id(),
    Column("source", String(64), nullable=False),  # connector or agent name
    Column("external_id", String(128), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("collector", String(64)),
    Column("business_day", Date, nullable=False),
    Column("booking_date", Date),
    Column("value_date", Date),
    Column("amount", BigInteger, nullable=False),  # bani, positive
    Column("currency", String(3), nullable=False, default="MDL"),
    Column("direction", String(6), nullable=False, default="credit"),
    Column("reversal", Boolean, nullable=False, default=False),
    Column("end_to_end_id", String(64)),
    Column("account_servicer_ref", String(64)),
    Column("remittance", Text),
    Column("debtor_name", String(200)),
    Column("debtor_iban", String(34)),
    Column("given_account_no", String(32)),  # as the record gave it, before matching
    Column("given_invoice_no", String(32)),
    Column("payment_ref", String(35)),
    Column("services", JSON),  # [{service_code, amount(bani)}] when the payer chose
    Column("batch_ref", String(64)),
    Column("period", String(7)),
    # mutable workflow state; the money itself lives in allocations
    Column("status", String(10), nullable=False),
    Column("account_no", String(16)),  # resolved; empty when split across accounts
    Column("reason", String(40)),
    Column("raw_file_id", ForeignKey("raw_files.id")),
    # the account (statements.account_iban) of the statement block that booked it: a bank
    # file may hold several accounts' statements; None for other sources
    Column("statement_account", String(64)),
    Column("agent_id", ForeignKey("agents.id")),
    Column("request_sha256", String(64)),  # API: the canonical body hash, for idempotency
    Column("response", JSON),  # API: the original answer, replayed on a retry
    Column("reverses_payment_id", ForeignKey("payments.id")),
    _ts("created_at"),
    UniqueConstraint("source", "external_id", name="uq_payments_source_external_id"),
    CheckConstraint(
        "status IN ('allocated', 'settled', 'review', 'returned', 'rejected', 'reversed')",
        name="status",
    ),
)
Index("ix_payments_day", payments.c.business_day, payments.c.channel)
Index("ix_payments_account", payments.c.account_no)
Index("ix_payments_svcr_ref", payments.c.account_servicer_ref)
Index("ix_payments_e2e", payments.c.end_to_end_id)

allocations = Table(
    "allocations",
    metadata,
    _id(),
    Column("payment_id", ForeignKey("payments.id"), nullable=False),
    Column("account_id", ForeignKey("accounts.id"), nullable=False),
    Column("invoice_line_id", ForeignKey("invoice_lines.id")),  # NULL = advance credit
    Column("service_id", ForeignKey("services.id")),
    Column("provider_id", ForeignKey("providers.id")),
    Column("amount", BigInteger, nullable=False),  # bani; negative on compensating rows
    Column("kind", String(12), nullable=False),
    Column("reverses_id", ForeignKey("allocations.id")),
    Column("business_day", Date, nullable=False),  # the day this row counts for finance
    Column("created_by", String(64), nullable=False),
    _ts("created_at"),
    CheckConstraint(
        "kind IN ('payment', 'advance', 'advance_use', 'reversal', 'correction')", name="kind"
    ),
)
Index("ix_allocations_payment", allocations.c.payment_id)
# What is open on a line is amount_due minus the sum of its allocations: with the amount in
# the index, that sum never reads the table.
Index("ix_allocations_line_amount", allocations.c.invoice_line_id, allocations.c.amount)
# Advance credit per account (rows without a line) is the only lookup by account: a partial
# index, so the million line rows of a day do not each pay a random-order index entry.
Index(
    "ix_allocations_advance",
    allocations.c.account_id,
    sqlite_where=allocations.c.invoice_line_id.is_(None),
    postgresql_where=allocations.c.invoice_line_id.is_(None),
)
Index("ix_allocations_day", allocations.c.business_day)

# --- review queue ----------------------------------------------------------------------------

QUEUE_INDEX_COLUMNS = ("state", "business_day", "id", "amount", "channel", "source", "reason",
                       "claimed_by", "best_score", "search")  # fmt: skip
review_items = Table(
    "review_items",
    metadata,
    _id(),
    Column("payment_id", ForeignKey("payments.id"), nullable=False, unique=True),
    Column("reason", String(40), nullable=False),
    Column("candidates", JSON, nullable=False),  # [{account_no, score, reason}]
    Column("state", String(20), nullable=False),
    _ts("created_at"),
    _ts("resolved_at", nullable=True),
    Column("resolved_by", String(64)),
    # workflow (migration 0006): optimistic concurrency and who is working the item
    Column("version", Integer, nullable=False, server_default="1"),
    Column("claimed_by", String(64)),
    _ts("claimed_at", nullable=True),
    Column("note", Text),  # the resolution's note or reason
    # payer name, IBAN and remittance folded (diacritics, case, Cyrillic -> Latin) for the
    # queue's search; written with the item (reconciliation.fold.search_text)
    Column("search", Text),
    # the payment's facts the queue filters and sorts by, copied when the item is written
    # (migration 0005b): the queue reads review_items alone, never 20,000 payment rows
    Column("business_day", Date),
    Column("amount", BigInteger),  # bani
    Column("channel", String(20)),
    Column("source", String(64)),
    Column("best_score", Integer),  # the first candidate's score in thousandths
)
Index("ix_review_items_state", review_items.c.state, review_items.c.reason)
# Covers every filter and sort of the workspace queue: a page and its count read this index
# alone, never the rows with their candidates (measured: p95 259 -> 58 ms over 24,000 items).
Index(
    "ix_review_items_queue",
    *(review_items.c[name] for name in QUEUE_INDEX_COLUMNS),
)

review_actions = Table(
    "review_actions",
    metadata,
    _id(),
    Column("review_item_id", ForeignKey("review_items.id"), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(30), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("from_state", String(20), nullable=False),
    Column("to_state", String(20), nullable=False),
    _ts("created_at"),
)
Index("ix_review_actions_item", review_actions.c.review_item_id)

# --- review workflow (migration 0006) --------------------------------------------------------

form_tokens = Table(
    "form_tokens",
    metadata,
    # one per rendered form / API call: the second submission replays the first's result
    Column("token", String(64), primary_key=True),
    Column("actor", String(64), nullable=False),
    Column("action", String(30), nullable=False),
    Column("result", JSON),
    _ts("created_at"),
)

approvals = Table(
    "approvals",
    metadata,
    _id(),
    Column("action", String(30), nullable=False),
    Column("review_item_id", ForeignKey("review_items.id")),
    Column("payment_id", ForeignKey("payments.id")),  # unmatch: a payment without an item
    Column("amount", BigInteger, nullable=False),  # bani the action moves (sum for bulk)
    Column("params", JSON, nullable=False),
    Column("summary", Text, nullable=False),  # what it does, in words, for the approver
    Column("requested_by", String(64), nullable=False),
    _ts("requested_at"),
    Column("status", String(10), nullable=False),
    Column("decided_by", String(64)),
    _ts("decided_at", nullable=True),
    Column("decision_note", Text),
    Column("result", JSON),
    CheckConstraint("status IN ('pending', 'approved', 'rejected', 'withdrawn')", name="status"),
)
_PENDING = approvals.c.status == "pending"
# One pending request per item and per payment: a second is a conflict, not a queue.
Index(
    "ux_approvals_pending_item",
    approvals.c.review_item_id,
    unique=True,
    sqlite_where=_PENDING,
    postgresql_where=_PENDING,
)
Index(
    "ux_approvals_pending_payment",
    approvals.c.payment_id,
    unique=True,
    sqlite_where=_PENDING,
    postgresql_where=_PENDING,
)
Index("ix_approvals_status", approvals.c.status, approvals.c.requested_at)

refunds = Table(
    "refunds",
    metadata,
    # one live row per payment returned to its payer; finance (payment orders) sets order_id
    _id(),
    Column("payment_id", ForeignKey("payments.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),  # bani
    Column("iban", String(34), nullable=False),
    Column("name", String(140), nullable=False),
    Column("reason", String(140), nullable=False),
    Column("business_day", Date, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("approved_by", String(64)),
    _ts("created_at"),
    Column("order_id", BigInteger),  # the payment order that paid it out
    _ts("cancelled_at", nullable=True),  # an undo before it was ordered
    Column("cancelled_by", String(64)),
)
_LIVE = refunds.c.cancelled_at.is_(None)
Index(
    "ux_refunds_live_payment",
    refunds.c.payment_id,
    unique=True,
    sqlite_where=_LIVE,
    postgresql_where=_LIVE,
)
Index("ix_refunds_day", refunds.c.business_day)

learned_rules = Table(
    "learned_rules",
    metadata,
    # evidence from resolutions: a payer (IBAN, or name and text) seen with an account
    _id(),
    Column("kind", String(8), nullable=False),  # place | decline
    Column("payer_key", String(300), nullable=False),
    Column("account_no", String(16), nullable=False),
    Column("decisions", Integer, nullable=False),
    Column("evidence", JSON, nullable=False),  # review_actions ids of the decisions
    Column("status", String(10), nullable=False),  # active | disabled | retired
    Column("status_reason", Text),
    _ts("created_at"),
    _ts("updated_at"),
    Column("updated_by", String(64)),
    UniqueConstraint("kind", "payer_key", "account_no", name="uq_learned_rules_key"),
    CheckConstraint("kind IN ('place', 'decline')", name="kind"),
    CheckConstraint("status IN ('active', 'disabled', 'retired')", name="status"),
)

learned_placements = Table(
    "learned_placements",
    metadata,
    # a payment the matcher placed by a learned rule (the rule's "placed" count)
    Column("payment_id", ForeignKey("payments.id"), primary_key=True),
    Column("rule_id", ForeignKey("learned_rules.id"), nullable=False),
    _ts("created_at"),
)
Index("ix_learned_placements_rule", learned_placements.c.rule_id)

users = Table(
    "users",
    metadata,
    _id(),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),  # argon2id, never the password
    Column("role", String(20), nullable=False, default="accountant"),  # people.Role
    _ts("created_at"),
    Column("display_name", String(200)),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    _ts("locked_until", nullable=True),
    # NULL while the password is a one-time one: it must be changed at the next log-in
    _ts("password_changed_at", nullable=True),
    _ts("last_login_at", nullable=True),
)

# A person's signed-in session: the cookie carries a random token, the table only its sha256,
# so a copy of the database opens no session. Shared by every server process.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 hex of the cookie's token
    Column("user_id", ForeignKey("users.id"), nullable=False),
    _ts("created_at"),
    _ts("last_seen_at"),
    Column("flash", JSON),  # [[level, text], ...] shown once on the next page
)
Index("ix_web_sessions_user", web_sessions.c.user_id)

# --- settlement and the business day ---------------------------------------------------------

settlements = Table(
    "settlements",
    metadata,
    _id(),
    Column("collector", String(64), nullable=False),
    Column("batch_ref", String(64), nullable=False),
    Column("registry_day", Date, nullable=False),
    Column("registry_total", BigInteger, nullable=False),
    Column("registry_count", Integer, nullable=False),
    Column("statement_payment_id", ForeignKey("payments.id")),
    Column("statement_amount", BigInteger),
    Column("difference", BigInteger, nullable=False),  # statement - registry (fees < 0)
    Column("status", String(12), nullable=False),  # settled | fee | difference | unsettled
    Column("business_day", Date, nullable=False),
    _ts("created_at"),
    UniqueConstraint("collector", "batch_ref", name="uq_settlements_collector_batch"),
)

business_days = Table(
    "business_days",
    metadata,
    Column("day", Date, primary_key=True),
    Column("status", String(8), nullable=False),  # open | closed
    _ts("closed_at", nullable=True),
    Column("closed_by", String(64)),
    Column("snapshot", JSON),  # the frozen daily report (its JSON export)
    Column("snapshot_sha256", String(64)),  # of the report's JSON bytes as exported
)

# --- finance: the day close and payment orders (migration 0007) -------------------------------

#: Every export of a closed day, as it was at the close: later exports serve these bytes.
day_exports = Table(
    "day_exports",
    metadata,
    Column("day", Date, primary_key=True),
    Column("name", String(40), primary_key=True),  # report.json, payments.csv, ...
    Column("sha256", String(64), nullable=False),  # of the bytes as served
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),  # zlib-compressed
    _ts("created_at"),
)

#: A finding of the daily report acknowledged with a comment (it then no longer blocks).
finding_acks = Table(
    "finding_acks",
    metadata,
    _id(),
    Column("day", Date, nullable=False),
    Column("finding_key", String(200), nullable=False),
    Column("comment", Text, nullable=False),
    Column("acknowledged_by", String(64), nullable=False),
    _ts("acknowledged_at"),
    UniqueConstraint("day", "finding_key", name="uq_finding_acks_day_key"),
)

#: One ISO 20022 pain.001 file: a day's remittance to providers, or a batch of refunds.
payment_orders = Table(
    "payment_orders",
    metadata,
    _id(),
    Column("kind", String(12), nullable=False),  # remittance | refund
    Column("business_day", Date, nullable=False),
    Column("number", Integer, nullable=False),  # 1 for the day's file, 2.. for corrections
    Column("message_id", String(35), nullable=False, unique=True),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),  # the XML as generated
    Column("total", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
    Column("state", String(10), nullable=False),  # created | sent | confirmed
    Column("created_by", String(64), nullable=False),
    _ts("created_at"),
    _ts("sent_at", nullable=True),
    _ts("confirmed_at", nullable=True),
    UniqueConstraint("kind", "business_day", "number", name="uq_payment_orders_kind_day_no"),
    CheckConstraint("kind IN ('remittance', 'refund')", name="kind"),
    CheckConstraint("state IN ('created', 'sent', 'confirmed')", name="state"),
)

payment_order_lines = Table(
    "payment_order_lines",
    metadata,
    _id(),
    Column("order_id", ForeignKey("payment_orders.id"), nullable=False),
    Column("end_to_end_id", String(35), nullable=False, unique=True),
    Column("provider_code", String(32)),  # remittance lines
    Column("refund_id", BigInteger),  # refund lines: refunds.id
    Column("creditor_name", String(140), nullable=False),
    Column("creditor_iban", String(34), nullable=False),
    Column("amount", BigInteger, nullable=False),  # bani
    Column("remittance_info", String(140), nullable=False),
    # the statement debit that confirmed this transfer, once seen
    Column("confirmed_payment_id", ForeignKey("payments.id")),
)
Index("ix_payment_order_lines_order", payment_order_lines.c.order_id)

connector_state = Table(
    "connector_state",
    metadata,
    Column("connector", String(64), primary_key=True),
    Column("cursor", Text),
    _ts("updated_at"),
)

remote_files = Table(
    "remote_files",
    metadata,
    _id(),
    Column("connector", String(64), nullable=False),
    Column("remote_path", String(500), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("mtime", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    _ts("fetched_at"),
    UniqueConstraint("connector", "remote_path", "size", "mtime", name="uq_remote_files_key"),
)
