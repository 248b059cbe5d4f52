-- One schema for SQLite and PostgreSQL: only types both understand (TEXT, INTEGER, BIGINT).
-- Times are Unix milliseconds (BIGINT) so both backends compare and sort them the same way.

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    counter_id    TEXT NOT NULL,
    staff_id      TEXT NOT NULL,
    opened_at_ms  BIGINT NOT NULL
);

-- One row per SubmitApplications call, keyed by the client's idempotency key.
CREATE TABLE submissions (
    session_id       TEXT NOT NULL REFERENCES sessions (id),
    idempotency_key  TEXT NOT NULL,
    request_sha256   TEXT NOT NULL,
    created_at_ms    BIGINT NOT NULL,
    PRIMARY KEY (session_id, idempotency_key)
);

CREATE TABLE applications (
    id               TEXT PRIMARY KEY,
    session_id       TEXT NOT NULL REFERENCES sessions (id),
    idempotency_key  TEXT NOT NULL,
    position         INTEGER NOT NULL,
    procedure_id     TEXT NOT NULL,
    target_system    TEXT NOT NULL,
    -- The canonical application as JSON (renkei_model::Application).
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    created_at_ms    BIGINT NOT NULL,
    updated_at_ms    BIGINT NOT NULL
);
CREATE INDEX applications_by_submission ON applications (session_id, idempotency_key, position);

-- The outbox: one delivery per application and target system.
CREATE TABLE deliveries (
    id                  TEXT PRIMARY KEY,
    application_id      TEXT NOT NULL REFERENCES applications (id),
    target_system       TEXT NOT NULL,
    -- pending | in_flight | delivered | rejected | dead
    state               TEXT NOT NULL,
    attempts            INTEGER NOT NULL,
    next_attempt_at_ms  BIGINT NOT NULL,
    lease_until_ms      BIGINT,
    claimed_by          TEXT,
    last_error          TEXT,
    receipt             TEXT,
    created_at_ms       BIGINT NOT NULL,
    updated_at_ms       BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at_ms);
CREATE INDEX deliveries_by_application ON deliveries (application_id);

-- Who read or changed what, for the access log the city keeps.
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    at_ms       BIGINT NOT NULL,
    session_id  TEXT,
    staff_id    TEXT,
    action      TEXT NOT NULL,
    -- 宛名番号 of the person concerned; never the individual number.
    subject     TEXT,
    detail      TEXT
);
CREATE INDEX audit_log_by_time ON audit_log (at_ms);
