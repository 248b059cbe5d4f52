-- The W3C trace context of the call that committed the application; each attempt continues it.
ALTER TABLE deliveries ADD COLUMN traceparent TEXT;
