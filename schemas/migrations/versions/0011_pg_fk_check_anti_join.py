"""PostgreSQL: the statement-level reference check as one anti join per reference

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 09:45:00

Migration 0009's ``plata_fk_child`` looked for the first row without a parent with one
query of LEFT JOINs and ``LIMIT 1``: the limit made the planner take nested loops, one
index probe per row and reference (the 1.83 M lines of a seed register: 5.5 M probes,
2.8 s of server CPU, half of that COPY's time). Now the common case, every reference
has its parent, is one count over a UNION ALL of ``NOT EXISTS`` anti joins, one per
reference, which the planner may run as a hash anti join (a small parent such as
services, or a large batch) or as index probes (a few rows); only when that count is
not zero does the old query run, to name the first reference without a parent in the
error. Locks, SQLSTATE and messages are 0009's; docs/perf.md has the figures.
"""

import runpy
from pathlib import Path

from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

CHILD_FUNCTION = r"""
CREATE OR REPLACE FUNCTION plata_fk_child() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  i int;
  col text;
  parent text;
  checks text := '';
  joins text := '';
  misses text := '';
  written bigint;
  parent_rows real;
  probe text;
  missing bigint;
  bad text;
BEGIN
  SELECT count(*) INTO written FROM new_rows;
  FOR i IN 0 .. TG_NARGS / 2 - 1 LOOP
    col := TG_ARGV[2 * i];
    parent := TG_ARGV[2 * i + 1];
    IF current_setting('transaction_isolation') = 'read committed' THEN
      PERFORM pg_advisory_xact_lock_shared(hashtext('plata_fk'), parent::regclass::oid::int);
    ELSE
      EXECUTE format('SELECT count(*) FROM (SELECT FROM %1$I p WHERE p.id IN'
                     ' (SELECT n.%2$I FROM new_rows n) FOR KEY SHARE OF p) l', parent, col);
    END IF;
    SELECT c.reltuples INTO parent_rows FROM pg_class c WHERE c.oid = parent::regclass;
    IF written * 10 < parent_rows THEN  -- few rows, a large parent: probe its key per value
      probe := 'SELECT FROM (SELECT DISTINCT n.%2$I AS k FROM new_rows n) d'
               ' WHERE d.k IS NOT NULL AND NOT EXISTS (SELECT FROM %1$I p WHERE p.id = d.k)';
    ELSE  -- many rows against the parent's size: one pass, hashing the parent
      probe := 'SELECT FROM new_rows n WHERE n.%2$I IS NOT NULL'
               ' AND NOT EXISTS (SELECT FROM %1$I p WHERE p.id = n.%2$I)';
    END IF;
    checks := checks || CASE WHEN i > 0 THEN ' UNION ALL ' ELSE '' END
      || format(probe, parent, col);
    joins := joins || format(' LEFT JOIN %1$I p%3$s ON p%3$s.id = n.%2$I', parent, col, i);
    misses := misses || format(' WHEN n.%1$I IS NOT NULL AND p%2$s.id IS NULL THEN %3$L',
                               col, i, format('%s.%s -> %s', TG_TABLE_NAME, col, parent));
  END LOOP;
  EXECUTE 'SELECT count(*) FROM (' || checks || ') c' INTO missing;
  IF missing = 0 THEN
    RETURN NULL;
  END IF;
  EXECUTE 'SELECT CASE' || misses || ' END FROM new_rows n' || joins
       || ' WHERE CASE' || misses || ' END IS NOT NULL LIMIT 1' INTO bad;
  RAISE EXCEPTION 'insert or update on table "%" violates foreign key: % has no parent row',
    TG_TABLE_NAME, bad USING ERRCODE = 'foreign_key_violation';
END $fn$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(CHILD_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    before = Path(__file__).with_name("0009_pg_statement_foreign_keys.py")
    op.execute(runpy.run_path(str(before))["CHILD_FUNCTION"])
