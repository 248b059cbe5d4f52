DROP TABLE audit_segments;
