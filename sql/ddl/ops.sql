-- Schemas of every layer, and the operational tables the integration team reads.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS canonical;
CREATE SCHEMA IF NOT EXISTS quarantine;
CREATE SCHEMA IF NOT EXISTS recon;
CREATE SCHEMA IF NOT EXISTS billing;
CREATE SCHEMA IF NOT EXISTS marts;
CREATE SCHEMA IF NOT EXISTS ops;

-- one row per source extraction
CREATE TABLE IF NOT EXISTS ops.sync_runs (
    source            VARCHAR NOT NULL,
    object            VARCHAR NOT NULL,
    run_id            VARCHAR,
    extract_id        VARCHAR NOT NULL PRIMARY KEY,
    started_at        TIMESTAMP NOT NULL,
    finished_at       TIMESTAMP NOT NULL,
    rows_read         BIGINT NOT NULL,
    rows_loaded       BIGINT NOT NULL,
    rows_quarantined  BIGINT NOT NULL,
    files_loaded      INTEGER NOT NULL,
    files_skipped     INTEGER NOT NULL,
    watermark_before  VARCHAR,
    watermark_after   VARCHAR,
    latest_source_ts  TIMESTAMP,
    source_freshness_lag INTERVAL
);

-- every record quarantined or flagged, from any layer; resolved, never deleted
CREATE TABLE IF NOT EXISTS ops.exceptions (
    layer        VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,
    object       VARCHAR NOT NULL,
    record_key   VARCHAR NOT NULL,
    rule         VARCHAR NOT NULL,
    message      VARCHAR NOT NULL,
    owner        VARCHAR,
    file         VARCHAR,
    row_number   BIGINT,
    first_seen   TIMESTAMP NOT NULL,
    last_seen    TIMESTAMP NOT NULL,
    resolved_at  TIMESTAMP,
    PRIMARY KEY (layer, source, object, record_key, rule)
);

-- incremental state: advances only in the transaction that loads the rows
CREATE TABLE IF NOT EXISTS ops.watermarks (
    object      VARCHAR NOT NULL PRIMARY KEY,
    watermark   VARCHAR NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- every landed file seen, by content: the same bytes are never loaded twice
CREATE TABLE IF NOT EXISTS ops.loaded_files (
    object        VARCHAR NOT NULL,
    file          VARCHAR NOT NULL,
    content_hash  VARCHAR NOT NULL,
    extract_id    VARCHAR NOT NULL,
    loaded_at     TIMESTAMP NOT NULL,
    rows_loaded   BIGINT NOT NULL,
    status        VARCHAR NOT NULL,  -- loaded | duplicate | rejected
    PRIMARY KEY (object, file, content_hash)
);

-- rows the extract could not accept, kept whole (as JSON text) so nothing is lost
CREATE TABLE IF NOT EXISTS quarantine.extract_rejects (
    object        VARCHAR NOT NULL,
    file          VARCHAR,
    row_number    BIGINT,
    record_key    VARCHAR,
    rule          VARCHAR NOT NULL,
    message       VARCHAR NOT NULL,
    record        VARCHAR,
    extract_id    VARCHAR NOT NULL,
    quarantined_at TIMESTAMP NOT NULL
);

ALTER TABLE quarantine.extract_rejects ADD COLUMN IF NOT EXISTS file_date DATE;
-- the date a landed file's name carries (drop, export or CRM extract date)
ALTER TABLE ops.loaded_files ADD COLUMN IF NOT EXISTS file_date DATE;
-- the file's size, modification and change times and inode when it was last read: while they are the same the
-- bytes are, so a run does not hash the file again (writing a file sets its change time, which no tool can set back)
ALTER TABLE ops.loaded_files ADD COLUMN IF NOT EXISTS file_stat VARCHAR;

-- rejected records that a later extraction brought valid (or whose key the PSA no longer has): they hold nothing
CREATE TABLE IF NOT EXISTS quarantine.extract_fixes (
    object             VARCHAR NOT NULL,
    record_key         VARCHAR NOT NULL,
    reject_extract_id  VARCHAR NOT NULL,
    fixed_extract_id   VARCHAR NOT NULL,
    fixed_at           TIMESTAMP NOT NULL
);

-- earlier deliveries of a file name that a changed file under the same name corrected: their raw rows stay
-- for audit but no longer count (macro delivered)
CREATE TABLE IF NOT EXISTS ops.superseded_deliveries (
    object         VARCHAR NOT NULL,
    file           VARCHAR NOT NULL,
    extract_id     VARCHAR NOT NULL,
    superseded_by  VARCHAR NOT NULL,
    superseded_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (object, file, extract_id)
);

-- canonical rows that break a pandera contract: the current set per table, kept whole
CREATE TABLE IF NOT EXISTS quarantine.canonical_rejects (
    table_name    VARCHAR NOT NULL,
    record_key    VARCHAR,
    record_hash   VARCHAR,
    rule          VARCHAR NOT NULL,
    column_name   VARCHAR,
    failure_case  VARCHAR,
    message       VARCHAR NOT NULL,
    record        VARCHAR,
    quarantined_at TIMESTAMP NOT NULL
);

-- the idempotency ledger: every (item, source id, source revision) is carried by exactly one batch, ever
CREATE TABLE IF NOT EXISTS billing.ledger (
    idempotency_key  VARCHAR NOT NULL PRIMARY KEY,
    item             VARCHAR NOT NULL,
    source_id        BIGINT NOT NULL,
    source_revision  INTEGER NOT NULL,
    batch_id         VARCHAR NOT NULL,
    as_of_date       DATE NOT NULL,
    quantity         DECIMAL(18, 2) NOT NULL,
    recorded_at      TIMESTAMP NOT NULL
);

-- keys of batches finance rejected in the workbench, taken out of the ledger so a later date may carry them
CREATE TABLE IF NOT EXISTS billing.rejected_ledger (
    idempotency_key  VARCHAR NOT NULL,
    item             VARCHAR NOT NULL,
    source_id        BIGINT NOT NULL,
    source_revision  INTEGER NOT NULL,
    batch_id         VARCHAR NOT NULL,
    as_of_date       DATE NOT NULL,
    quantity         DECIMAL(18, 2) NOT NULL,
    recorded_at      TIMESTAMP NOT NULL,
    rejected_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (batch_id, idempotency_key)
);

-- row-local canonical histories are appended incrementally: which build of the SQL and contracts each
-- table holds, and which raw extractions it already contains
CREATE TABLE IF NOT EXISTS ops.canonical_builds (
    table_name   VARCHAR NOT NULL PRIMARY KEY,
    fingerprint  VARCHAR NOT NULL,
    built_at     TIMESTAMP NOT NULL
);
-- the distinct keys of a history whose latest state holds one row per key (its row count, kept as rows arrive)
ALTER TABLE ops.canonical_builds ADD COLUMN IF NOT EXISTS latest_keys BIGINT;
CREATE TABLE IF NOT EXISTS ops.canonical_extracts (
    table_name   VARCHAR NOT NULL,
    extract_id   VARCHAR NOT NULL
);

-- the as-of dates written to each published table kept as versions (assets/versions.py): its view yields a stored
-- row for every date here within the row's valid_from .. valid_to
CREATE TABLE IF NOT EXISTS ops.as_of_dates (
    table_name  VARCHAR NOT NULL,
    as_of_date  DATE NOT NULL,
    PRIMARY KEY (table_name, as_of_date)
);

-- what the last write of each (published table, as-of date) saw of each input, so that the next run of the same
-- date recomputes only what changed since (assets/recon/incremental.py): the input's build, its newest arrival
-- and the rows up to it
CREATE TABLE IF NOT EXISTS ops.recon_inputs (
    table_name    VARCHAR NOT NULL,
    as_of_date    DATE NOT NULL,
    input         VARCHAR NOT NULL,
    fingerprint   VARCHAR NOT NULL,
    newest        TIMESTAMP,
    rows_through  BIGINT NOT NULL,
    PRIMARY KEY (table_name, as_of_date, input)
);

-- the time entries an incremental recon run reads, and (recompute) those whose rows it recomputes; filled and
-- emptied inside that run's transaction
CREATE TABLE IF NOT EXISTS ops.recon_scope (
    time_entry_id  BIGINT NOT NULL PRIMARY KEY,
    recompute      BOOLEAN NOT NULL
);
ALTER TABLE ops.recon_scope ADD COLUMN IF NOT EXISTS recompute BOOLEAN DEFAULT TRUE;

-- turns of writes that must not run side by side live in a table each: resources/warehouse.py, ensure_turn
DROP TABLE IF EXISTS ops.write_turns;
