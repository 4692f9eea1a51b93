-- How an inventory's hosts map to Prometheus targets (JSON; NULL: none).
ALTER TABLE inventories ADD COLUMN prometheus_sd TEXT;
