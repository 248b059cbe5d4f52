ALTER TABLE sessions DROP COLUMN receipt_ref;
ALTER TABLE sessions DROP COLUMN closed_at_ms;
ALTER TABLE sessions DROP COLUMN last_used_at_ms;
ALTER TABLE sessions DROP COLUMN terminal_id;
DROP TABLE logins;
DROP TABLE users;
