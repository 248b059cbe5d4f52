-- The access log's archived segments: entries past the retention time leave audit_log as a signed
-- JSON Lines file; the live chain starts after the last segment and links to its last hash.
CREATE TABLE audit_segments (
    first_seq       BIGINT PRIMARY KEY,
    last_seq        BIGINT NOT NULL,
    last_hash       TEXT NOT NULL,
    entries         BIGINT NOT NULL,
    file            TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    archived_at_ms  BIGINT NOT NULL,
    key_id          TEXT NOT NULL,
    signature       TEXT NOT NULL
);
