DROP TABLE audit_log;
DROP TABLE deliveries;
DROP TABLE applications;
DROP TABLE submissions;
DROP TABLE sessions;
