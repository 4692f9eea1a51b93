-- What an inventory's Ansible document does with a host name that more
-- than one of its sources produce (issue 15, item 5): merge (Ansible's own
-- behaviour, the default), prefix, first or fail.
ALTER TABLE inventories ADD COLUMN name_policy TEXT NOT NULL DEFAULT 'merge';
