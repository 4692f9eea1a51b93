-- Smart and constructed inventories (issue 19). An inventory's kind says
-- where its hosts come from: its own sources (plain), or other inventories,
-- its inputs, read by the one source Roster manages for it (smart:
-- filtered by a host filter; constructed: compose, groups, keyed_groups
-- and limit of Ansible's constructed plugin). The hosts are materialised
-- as any source's, so every read path serves them unchanged; each host's
-- scope is the ids of the inputs its data came from.
ALTER TABLE inventories ADD COLUMN kind TEXT NOT NULL DEFAULT 'plain';
-- The inputs, in order (Ansible's -i order). An inventory that is an
-- input cannot be deleted (RESTRICT): its hosts would silently leave the
-- derived one. seen_generation is the input's generation the last
-- successful run of the derived inventory read: the input is newer when
-- its generation is higher, and the derived inventory is then stale.
CREATE TABLE inventory_inputs (
    inventory_id    TEXT NOT NULL REFERENCES inventories (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    input_id        TEXT NOT NULL REFERENCES inventories (id) ON DELETE RESTRICT,
    seen_generation INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (inventory_id, position),
    UNIQUE (inventory_id, input_id)
);
CREATE INDEX inventory_inputs_input ON inventory_inputs (input_id);
