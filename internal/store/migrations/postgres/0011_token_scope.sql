-- A token may be limited to named inventories and to reads. inventories
-- holds inventory ids; NULL is no limit, except for runners, who see only
-- what they hold grants for (and what they are limited to). The ids are
-- not foreign keys: deleting an inventory must never turn a limited token
-- into an unlimited one.
ALTER TABLE tokens ADD COLUMN inventories text[];
ALTER TABLE tokens ADD COLUMN read_only boolean NOT NULL DEFAULT false;

-- Runner tokens read every inventory until now. Those that hold no grant
-- (they were made to read inventories only) keep the inventories that
-- exist today, and no later one; those with grants see their grants'.
UPDATE tokens SET inventories = (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM inventories)
 WHERE role = 'runner' AND NOT EXISTS (SELECT 1 FROM grants WHERE grants.token_id = tokens.id);
