-- The change-feed hub: the resident record's changes (異動分) as received, where each reader of
-- them is, and the changes a subscriber's mapping could not take.

-- Changes in the source's order, kept until every subscriber has taken them. `resident` is the
-- canonical record after the change (JSON); `reason` is the 異動事由 in renkei's code.
CREATE TABLE feed_changes (
    seq             BIGINT PRIMARY KEY,
    reason          TEXT NOT NULL,
    change_date     TEXT NOT NULL,
    resident        TEXT NOT NULL,
    received_at_ms  BIGINT NOT NULL
);

-- One row for the source (name "source": the last seq taken from the resident record) and one per
-- subscriber (the last seq delivered). A subscriber's batch (position, pending_to] is fixed here
-- before it is sent, so after a crash the same batch goes again under the same key. Whoever holds
-- the lease works the row; another replica takes over once it runs out.
CREATE TABLE feed_cursors (
    name            TEXT PRIMARY KEY,
    position        BIGINT NOT NULL,
    pending_to      BIGINT,
    leased_by       TEXT,
    lease_until_ms  BIGINT NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    updated_at_ms   BIGINT NOT NULL
);

-- Changes a subscriber's mapping refused (a value that does not fit its layout): left out of its
-- deliveries and kept here, with the reason, for operators.
CREATE TABLE feed_quarantine (
    subscriber      TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    error           TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    PRIMARY KEY (subscriber, seq)
);
