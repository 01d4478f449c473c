"""PostgreSQL: the bulk tables' foreign keys checked once per statement

Revision ID: 0009
Revises: 0005b
Create Date: 2026-12-02 06:20:00

On PostgreSQL a foreign key is a row trigger: every inserted row runs one lookup of its
parent through SPI, about 10 µs. The seed register import writes 1.83 M invoice lines
(5.5 M such lookups: most of its minute and a half) and a 100,000-payment day ~400,000
allocation rows (2 M lookups). For the tables written in bulk, the same references are
checked instead once per statement by triggers with transition tables
(``plata_fk_child``): one hash join of the statement's new rows against each parent, and
the statement fails with SQLSTATE 23503 (foreign_key_violation, an ``IntegrityError`` as
before) naming the first reference without a parent. Deleting a referenced parent row, or
changing its id, fails the same way (``plata_fk_parent``).

Concurrency, which a row-level foreign key gets from a FOR KEY SHARE lock on each parent:
under READ COMMITTED the child check holds a shared transaction advisory lock per parent
table and the parent check an exclusive one, taken only when parent ids actually vanish
(a DELETE, or an UPDATE that changes ids: never in this application), so a delete and an
insert that reference the same parent are serialised and the later one sees the other's
committed rows. Under REPEATABLE READ or SERIALIZABLE (whose snapshot would not see a
concurrent delete) the child check locks the parent rows FOR KEY SHARE, as PostgreSQL's
own check does. No session setting, no disabled trigger, no deferred constraint.

SQLite keeps its declared foreign keys (``schemas/tables.py``); the bulk jobs there run in
``gateway.db.bulk_transaction``. Other tables keep PostgreSQL's own foreign keys.
"""

from alembic import op

revision = '0009'
down_revision = '0005b'
branch_labels = None
depends_on = None

#: (child table, column, parent table) of the references moved to statement triggers.
REFERENCES = (
    ("accounts", "manager_id", "managers"),
    ("invoices", "account_id", "accounts"),
    ("invoices", "import_id", "register_imports"),
    ("invoice_lines", "invoice_id", "invoices"),
    ("invoice_lines", "service_id", "services"),
    ("invoice_lines", "provider_id", "providers"),
    ("payments", "raw_file_id", "raw_files"),
    ("payments", "agent_id", "agents"),
    ("payments", "reverses_payment_id", "payments"),
    ("allocations", "payment_id", "payments"),
    ("allocations", "account_id", "accounts"),
    ("allocations", "invoice_line_id", "invoice_lines"),
    ("allocations", "service_id", "services"),
    ("allocations", "provider_id", "providers"),
    ("allocations", "reverses_id", "allocations"),
)

CHILD_FUNCTION = r"""
CREATE OR REPLACE FUNCTION plata_fk_child() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  i int;
  col text;
  parent text;
  joins text := '';
  misses text := '';
  bad text;
BEGIN
  FOR i IN 0 .. TG_NARGS / 2 - 1 LOOP
    col := TG_ARGV[2 * i];
    parent := TG_ARGV[2 * i + 1];
    IF current_setting('transaction_isolation') = 'read committed' THEN
      PERFORM pg_advisory_xact_lock_shared(hashtext('plata_fk'), parent::regclass::oid::int);
    ELSE
      EXECUTE format('SELECT count(*) FROM (SELECT FROM %1$I p WHERE p.id IN'
                     ' (SELECT n.%2$I FROM new_rows n) FOR KEY SHARE OF p) l', parent, col);
    END IF;
    joins := joins || format(' LEFT JOIN %1$I p%3$s ON p%3$s.id = n.%2$I', parent, col, i);
    misses := misses || format(' WHEN n.%1$I IS NOT NULL AND p%2$s.id IS NULL THEN %3$L',
                               col, i, format('%s.%s -> %s', TG_TABLE_NAME, col, parent));
  END LOOP;
  EXECUTE 'SELECT CASE' || misses || ' END FROM new_rows n' || joins
       || ' WHERE CASE' || misses || ' END IS NOT NULL LIMIT 1' INTO bad;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'insert or update on table "%" violates foreign key: % has no parent row',
      TG_TABLE_NAME, bad USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $fn$;
"""

PARENT_FUNCTION = r"""
CREATE OR REPLACE FUNCTION plata_fk_parent() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  i int;
  gone text;
  vanished boolean;
  hit boolean;
BEGIN
  IF TG_OP = 'DELETE' THEN
    gone := 'SELECT id FROM old_rows';
  ELSE
    gone := 'SELECT id FROM old_rows EXCEPT SELECT id FROM new_rows';
  END IF;
  EXECUTE 'SELECT EXISTS (' || gone || ')' INTO vanished;
  IF NOT vanished THEN
    RETURN NULL;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('plata_fk'), TG_RELID::int);
  FOR i IN 0 .. TG_NARGS / 2 - 1 LOOP
    EXECUTE format('SELECT EXISTS (SELECT FROM %1$I c WHERE c.%2$I IN (%3$s))',
                   TG_ARGV[2 * i], TG_ARGV[2 * i + 1], gone) INTO hit;
    IF hit THEN
      RAISE EXCEPTION 'update or delete on table "%" violates foreign key: %.% still refers to it',
        TG_TABLE_NAME, TG_ARGV[2 * i], TG_ARGV[2 * i + 1] USING ERRCODE = 'foreign_key_violation';
    END IF;
  END LOOP;
  RETURN NULL;
END $fn$;
"""


def _args(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(f"'{a}', '{b}'" for a, b in pairs)


def _by(index: int) -> dict[str, list[tuple[str, str]]]:
    """References grouped by child (index 0) or parent (index 2) table, in a fixed order."""
    out: dict[str, list[tuple[str, str]]] = {}
    for ref in REFERENCES:
        child, col, parent = ref
        pair = (col, parent) if index == 0 else (child, col)
        out.setdefault(ref[index], []).append(pair)
    return out


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(CHILD_FUNCTION)
    op.execute(PARENT_FUNCTION)
    for child, col, parent in REFERENCES:
        op.execute(f'ALTER TABLE {child} DROP CONSTRAINT "fk_{child}_{col}_{parent}"')
    for child, pairs in _by(0).items():
        for event in ("INSERT", "UPDATE"):
            op.execute(
                f"CREATE TRIGGER plata_fk_{event.lower()} AFTER {event} ON {child}"
                " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
                f" EXECUTE FUNCTION plata_fk_child({_args(pairs)})"
            )
    for parent, pairs in _by(2).items():
        op.execute(
            f"CREATE TRIGGER plata_fk_parent_delete AFTER DELETE ON {parent}"
            " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
            f" EXECUTE FUNCTION plata_fk_parent({_args(pairs)})"
        )
        op.execute(
            f"CREATE TRIGGER plata_fk_parent_update AFTER UPDATE ON {parent}"
            " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
            f" EXECUTE FUNCTION plata_fk_parent({_args(pairs)})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in {*_by(0), *_by(2)}:
        for name in ("insert", "update", "parent_delete", "parent_update"):
            op.execute(f"DROP TRIGGER IF EXISTS plata_fk_{name} ON {table}")
    for child, col, parent in REFERENCES:
        op.create_foreign_key(f"fk_{child}_{col}_{parent}", child, parent, [col], ["id"])
    op.execute("DROP FUNCTION IF EXISTS plata_fk_child()")
    op.execute("DROP FUNCTION IF EXISTS plata_fk_parent()")
