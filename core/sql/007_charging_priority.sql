-- A customer's charging priority (0 to 100, 0 by default): when a site's current cannot
-- give every session its minimum, the sessions of lower-priority customers wait first.
ALTER TABLE customers
    ADD COLUMN charging_priority smallint NOT NULL DEFAULT 0 CHECK (charging_priority BETWEEN 0 AND 100);
