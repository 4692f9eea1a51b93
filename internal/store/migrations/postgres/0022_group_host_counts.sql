-- Each group's host count, kept by the writes that change memberships
-- (a sync's changes, a source's deletion), not counted on read: counting
-- host_groups on read took about 400 ms at 100,000 hosts in 100,000 groups
-- (the Web UI's group tree, GET /api/v1/inventories/{inv}/groups). A group
-- whose last host leaves loses its row.
CREATE TABLE group_host_counts (
    inventory_id text NOT NULL,
    group_name   text NOT NULL,
    hosts        bigint NOT NULL,
    PRIMARY KEY (inventory_id, group_name)
);
INSERT INTO group_host_counts (inventory_id, group_name, hosts)
    SELECT inventory_id, group_name, count(*) FROM host_groups GROUP BY inventory_id, group_name;

-- Hosts in no group (Ansible's "ungrouped") found from an index, not by
-- probing every host's memberships.
CREATE INDEX hosts_ungrouped ON hosts (inventory_id, name, id) WHERE groups = '{}';
