-- Counting an inventory's hosts, and its enabled ones (HostCounts: the
-- Web UI's pages and the metrics), from an index: without it the count
-- reads every host row, vars and all (about 100 ms at 100,000 hosts on
-- SQLite; 17 ms with it).
CREATE INDEX hosts_inventory_enabled ON hosts (inventory_id, enabled);
