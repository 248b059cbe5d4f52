-- Staff identity: renkei's own users (passwords hashed with argon2id; the groups they belong to
-- are named in the groups file), their login sessions (a refresh token, kept only as its SHA-256),
-- and counter sessions that belong to the staff member and terminal that opened them.
CREATE TABLE users (
    id               TEXT PRIMARY KEY,
    display_name     TEXT NOT NULL,
    password_hash    TEXT NOT NULL,
    -- The group names, one per line.
    groups           TEXT NOT NULL,
    disabled         BOOLEAN NOT NULL DEFAULT FALSE,
    failed_logins    INTEGER NOT NULL DEFAULT 0,
    locked_until_ms  BIGINT,
    created_at_ms    BIGINT NOT NULL,
    updated_at_ms    BIGINT NOT NULL
);

CREATE TABLE logins (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (id),
    refresh_sha256   TEXT NOT NULL,
    created_at_ms    BIGINT NOT NULL,
    expires_at_ms    BIGINT NOT NULL,
    ended_at_ms      BIGINT
);
CREATE INDEX logins_by_user ON logins (user_id);

ALTER TABLE sessions ADD COLUMN terminal_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN last_used_at_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN closed_at_ms BIGINT;
-- What the receipt's 2D code carries: a reference to the visit that grants nothing by itself.
ALTER TABLE sessions ADD COLUMN receipt_ref TEXT NOT NULL DEFAULT '';
