-- A system's workers claim its due deliveries without scanning the others': a hung system's
-- backlog does not slow the claims of the systems that answer.
CREATE INDEX deliveries_due_by_system ON deliveries (target_system, state, next_attempt_at_ms);
