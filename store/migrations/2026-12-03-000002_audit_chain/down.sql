DROP TABLE audit_checkpoints;
DROP TABLE audit_head;
DROP INDEX audit_log_by_seq;
ALTER TABLE audit_log DROP COLUMN hash;
ALTER TABLE audit_log DROP COLUMN prev_hash;
ALTER TABLE audit_log DROP COLUMN seq;
