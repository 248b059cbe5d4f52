ALTER TABLE deliveries DROP COLUMN traceparent;
