-- The backyard work queue, and what the KPI report counts per application.

-- Applications processed at the backyard center wait here instead of going straight to the
-- outbox. queued → claimed → completed | returned (with a reason, back to the counter).
CREATE TABLE work_items (
    id              TEXT PRIMARY KEY,
    application_id  TEXT NOT NULL REFERENCES applications (id),
    session_id      TEXT NOT NULL REFERENCES sessions (id),
    procedure_id    TEXT NOT NULL,
    department      TEXT NOT NULL,
    state           TEXT NOT NULL,
    claimed_by      TEXT,
    note            TEXT,
    return_reason   TEXT,
    created_at_ms   BIGINT NOT NULL,
    updated_at_ms   BIGINT NOT NULL
);
CREATE INDEX work_items_queue ON work_items (state, department, created_at_ms);
CREATE INDEX work_items_by_session ON work_items (session_id);

-- Pattern 1–4 of the procedure when submitted, and how many of the form's fields were filled
-- by renkei rather than by hand.
ALTER TABLE applications ADD COLUMN pattern INTEGER NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN fields_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN fields_prefilled INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sessions_by_opening ON sessions (opened_at_ms);
