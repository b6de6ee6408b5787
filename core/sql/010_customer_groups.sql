-- Customer groups: a set of customers that share a price (a fleet, a staff or member
-- rate). A customer is in at most one group; a tariff assigned to the group prices its
-- members' sessions unless one is assigned to the customer itself (core/billing.c).
CREATE TABLE customer_groups (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE customers ADD COLUMN customer_group_id bigint
    REFERENCES customer_groups(id) ON DELETE SET NULL;
CREATE INDEX customers_group ON customers (customer_group_id) WHERE customer_group_id IS NOT NULL;

ALTER TABLE tariff_assignments ADD COLUMN customer_group_id bigint
    REFERENCES customer_groups(id) ON DELETE CASCADE;
ALTER TABLE tariff_assignments DROP CONSTRAINT tariff_assignments_check;
ALTER TABLE tariff_assignments ADD CONSTRAINT tariff_assignments_one_target
    CHECK (num_nonnulls(station_id, site_id, customer_id, customer_group_id) + is_default::int = 1);
CREATE INDEX tariff_assignments_customer_group ON tariff_assignments (customer_group_id, assigned_at)
    WHERE customer_group_id IS NOT NULL;
