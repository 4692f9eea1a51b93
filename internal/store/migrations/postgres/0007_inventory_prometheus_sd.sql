-- How an inventory's hosts map to Prometheus targets (NULL: none). json,
-- not jsonb, keeps the document byte for byte, as the SQLite store does.
ALTER TABLE inventories ADD COLUMN prometheus_sd json;
