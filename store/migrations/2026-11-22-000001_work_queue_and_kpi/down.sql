DROP INDEX sessions_by_opening;
ALTER TABLE applications DROP COLUMN fields_prefilled;
ALTER TABLE applications DROP COLUMN fields_total;
ALTER TABLE applications DROP COLUMN pattern;
DROP TABLE work_items;
