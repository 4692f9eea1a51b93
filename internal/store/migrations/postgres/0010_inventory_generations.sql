-- An inventory's generation moves whenever what its whole-inventory
-- documents show changes (its hosts, their groups and vars, group nesting
-- and vars, its sources' names, its own name and Prometheus mapping), in
-- the transaction that changes it. Readers render a document once per
-- generation and serve it from there.
--
-- It lives in a table of its own, not on inventories: a finishing sync
-- holds its source's row lock when it bumps the generation, and
-- DeleteInventory locks the inventory's row before its sources'; bumping a
-- column of inventories there would lock the two in the opposite order.
-- The row is created with the inventory and only ever updated, so a bump
-- takes no lock on inventories (an insert would, for the foreign key).
CREATE TABLE inventory_generations (
    inventory_id text COLLATE "C" PRIMARY KEY REFERENCES inventories (id) ON DELETE CASCADE,
    generation   bigint NOT NULL
);
INSERT INTO inventory_generations (inventory_id, generation) SELECT id, 1 FROM inventories;
