-- What a counter visit holds on the server, so later steps refer to it by the session's id and the
-- counter app sends only what staff changed or keyed in: the evidence as the server judged it, the
-- resident and household looked up (read from the resident record once per visit), and each
-- prefilled form with the provenance of its values. One JSON document per session.
CREATE TABLE visits (
    session_id     TEXT PRIMARY KEY REFERENCES sessions (id),
    state          TEXT NOT NULL,
    updated_at_ms  BIGINT NOT NULL
);
