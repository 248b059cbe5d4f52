DROP TABLE feed_quarantine;
DROP TABLE feed_cursors;
DROP TABLE feed_changes;
