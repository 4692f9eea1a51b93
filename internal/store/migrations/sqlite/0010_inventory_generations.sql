-- An inventory's generation moves whenever what its whole-inventory
-- documents show changes (its hosts, their groups and vars, group nesting
-- and vars, its sources' names, its own name and Prometheus mapping), in
-- the transaction that changes it. Readers render a document once per
-- generation and serve it from there. It lives in a table of its own, not
-- on inventories, so that a sync bumping it does not lock the inventory's
-- row (see the PostgreSQL migration).
CREATE TABLE inventory_generations (
    inventory_id TEXT PRIMARY KEY REFERENCES inventories (id) ON DELETE CASCADE,
    generation   INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO inventory_generations (inventory_id, generation) SELECT id, 1 FROM inventories;
