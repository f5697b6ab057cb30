"""The case book's tables on the server store, as migration 4 of :data:`forewarn.store.pg_sql.MIGRATIONS`.

Its own module (no imports) so that the migrations list and the case book's connection
(:mod:`forewarn.store.pg_cases`) both read it; :mod:`forewarn.store.pg_cases` says what the tables and roles are for.

>>> "cases_one_open" in MIGRATION and CASEBOOK_ROLE in MIGRATION
True
"""

from __future__ import annotations

READ_ROLE = "forewarn_read"
CASEBOOK_ROLE = "forewarn_casebook"
CASE_TABLES = ("cases", "alerts", "alert_state")

MIGRATION = f"""
CREATE SEQUENCE IF NOT EXISTS case_ids START 1;
CREATE SEQUENCE IF NOT EXISTS alert_ids START 1;
CREATE TABLE IF NOT EXISTS cases (
    case_id bigint PRIMARY KEY, asset_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('open', 'acknowledged', 'closed')),
    risk_level text NOT NULL, model_id text NOT NULL, opened_ts timestamptz NOT NULL,
    last_alert_ts timestamptz NOT NULL, n_alerts integer NOT NULL, top_sensors text NOT NULL,
    acknowledged_ts timestamptz, acknowledged_by text, closed_ts timestamptz, closed_by text, note text,
    kind text NOT NULL DEFAULT 'health');
CREATE UNIQUE INDEX IF NOT EXISTS cases_one_open ON cases (asset_id, kind) WHERE status IN ('open', 'acknowledged');
CREATE TABLE IF NOT EXISTS alerts (
    alert_id bigint PRIMARY KEY, case_id bigint NOT NULL REFERENCES cases (case_id), asset_id text NOT NULL,
    ts timestamptz NOT NULL, model_id text NOT NULL, score double precision NOT NULL,
    probability double precision, rul double precision, risk_level text NOT NULL, explanation text NOT NULL,
    source text);
CREATE INDEX IF NOT EXISTS alerts_asset_ts ON alerts (asset_id, ts);
CREATE INDEX IF NOT EXISTS alerts_case ON alerts (case_id);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_filed_once ON alerts (source, model_id, asset_id, ts)
    WHERE source IS NOT NULL;
CREATE TABLE IF NOT EXISTS alert_state (
    policy text NOT NULL, asset_id text NOT NULL, active boolean NOT NULL, streak integer NOT NULL,
    last_active_ns bigint NOT NULL, last_ns bigint NOT NULL, PRIMARY KEY (policy, asset_id));
DO $roles$
BEGIN
    BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READ_ROLE}') THEN
            CREATE ROLE {READ_ROLE} NOLOGIN;
        END IF;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{CASEBOOK_ROLE}') THEN
            CREATE ROLE {CASEBOOK_ROLE} NOLOGIN;
        END IF;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'forewarn: no CREATEROLE, so the roles {READ_ROLE} and {CASEBOOK_ROLE} were not created';
    END;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{READ_ROLE}') THEN
        EXECUTE 'GRANT USAGE ON SCHEMA public TO {READ_ROLE}';
        EXECUTE 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READ_ROLE}';
        EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {READ_ROLE}';
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{CASEBOOK_ROLE}') THEN
        EXECUTE 'GRANT USAGE ON SCHEMA public TO {CASEBOOK_ROLE}';
        EXECUTE 'GRANT SELECT, INSERT, UPDATE ON cases, alerts, alert_state TO {CASEBOOK_ROLE}';
        EXECUTE 'GRANT USAGE, SELECT ON SEQUENCE case_ids, alert_ids TO {CASEBOOK_ROLE}';
    END IF;
END
$roles$;
"""

#: migration 5: the quality inspection log and review queue (:class:`forewarn.quality.review.ReviewQueue`)
REVIEW_MIGRATION = f"""
CREATE SEQUENCE IF NOT EXISTS inspection_ids START 1;
CREATE TABLE IF NOT EXISTS inspections (
    inspection_id bigint PRIMARY KEY, ts timestamptz NOT NULL, line text NOT NULL, unit text NOT NULL,
    image text NOT NULL, defect_type text NOT NULL, probability double precision NOT NULL, decision text NOT NULL,
    status text NOT NULL, verdict text, verdict_type text, reviewer text, reviewed_ts timestamptz);
CREATE INDEX IF NOT EXISTS inspections_pending ON inspections (line, inspection_id) WHERE status = 'pending';
DO $grants$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{CASEBOOK_ROLE}') THEN
        EXECUTE 'GRANT SELECT, INSERT, UPDATE ON inspections TO {CASEBOOK_ROLE}';
        EXECUTE 'GRANT USAGE, SELECT ON SEQUENCE inspection_ids TO {CASEBOOK_ROLE}';
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{READ_ROLE}') THEN
        EXECUTE 'GRANT SELECT ON inspections TO {READ_ROLE}';
    END IF;
END
$grants$;
"""

#: migration 6: the inspection log keeps each unit's novelty score and flag
#: (:func:`forewarn.quality.decisions.with_novelty`)
REVIEW_NOVELTY_MIGRATION = """
ALTER TABLE inspections ADD COLUMN IF NOT EXISTS novelty_score double precision;
ALTER TABLE inspections ADD COLUMN IF NOT EXISTS novel boolean;
"""
