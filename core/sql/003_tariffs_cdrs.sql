-- Tariffs and charge detail records (core/pricing.c prices; the billing domain writes).
-- A tariff's definition is versioned: an update adds a revision, so the tariff in force
-- when a session started can still be found when it ends.
CREATE TABLE tariffs (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    currency    text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    valid_from  timestamptz,                 -- NULL: since ever
    valid_to    timestamptz,                 -- NULL: no end; [valid_from, valid_to)
    deleted_at  timestamptz,                 -- deleted tariffs stay for the CDRs' history
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from)
);

-- The definition (OCPI 2.2.1 names, read by pl_tariff_from_json), one row per change.
CREATE TABLE tariff_revisions (
    tariff_id   bigint NOT NULL REFERENCES tariffs(id) ON DELETE CASCADE,
    revision    int NOT NULL,
    definition  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tariff_id, revision)
);

-- Who a tariff applies to: exactly one of a station, a site, a customer, or the default.
-- The most specific valid one applies (customer, station, site, default). An assignment
-- is ended, never deleted, so the one in force at a session's start stays known.
CREATE TABLE tariff_assignments (
    id           bigserial PRIMARY KEY,
    tariff_id    bigint NOT NULL REFERENCES tariffs(id) ON DELETE CASCADE,
    station_id   text REFERENCES stations(id) ON DELETE CASCADE,
    site_id      bigint,                     -- sites come with the load-management issue
    customer_id  bigint REFERENCES customers(id) ON DELETE CASCADE,
    is_default   boolean NOT NULL DEFAULT false,
    assigned_at  timestamptz NOT NULL DEFAULT now(),
    ended_at     timestamptz,
    CHECK (num_nonnulls(station_id, site_id, customer_id) + is_default::int = 1)
);
CREATE INDEX tariff_assignments_station ON tariff_assignments (station_id, assigned_at)
    WHERE station_id IS NOT NULL;
CREATE INDEX tariff_assignments_customer ON tariff_assignments (customer_id, assigned_at)
    WHERE customer_id IS NOT NULL;
CREATE UNIQUE INDEX tariff_assignments_one_default ON tariff_assignments (is_default)
    WHERE is_default AND ended_at IS NULL;

-- Charge detail records: written once when a session ends, never changed. Ids are copied,
-- not referenced, so a CDR outlives a deleted station, token or customer.
CREATE TABLE cdrs (
    id                   bigserial PRIMARY KEY,
    transaction_id       bigint NOT NULL UNIQUE,  -- one CDR per session
    station_id           text NOT NULL,
    station_tx_id        text NOT NULL,
    evse                 int,
    connector            int,
    id_token             text,
    customer_id          bigint,
    started_at           timestamptz NOT NULL,
    stopped_at           timestamptz NOT NULL,
    energy_wh            bigint,
    charging_seconds     bigint,
    parking_seconds      bigint,
    tariff_id            bigint,
    tariff_revision      int,
    tariff               jsonb,                   -- the definition as it was (a snapshot)
    currency             text,
    components           jsonb NOT NULL DEFAULT '[]'::jsonb,
    periods              jsonb NOT NULL DEFAULT '[]'::jsonb,
    total_excl_vat       numeric,                 -- in the currency's units, exact
    total_incl_vat       numeric,
    signed_meter_values  jsonb,
    status               text NOT NULL
        CHECK (status IN ('priced', 'no_tariff', 'missing_meter_values')),
    created_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'priced' OR (currency IS NOT NULL AND total_excl_vat IS NOT NULL
                                  AND total_incl_vat IS NOT NULL AND tariff IS NOT NULL))
);
CREATE INDEX cdrs_stopped ON cdrs (stopped_at, id);
CREATE INDEX cdrs_station ON cdrs (station_id, stopped_at);
CREATE INDEX cdrs_customer ON cdrs (customer_id, stopped_at) WHERE customer_id IS NOT NULL;
CREATE INDEX cdrs_token ON cdrs (id_token, stopped_at);

CREATE FUNCTION cdrs_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'charge detail records are immutable' USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER cdrs_immutable BEFORE UPDATE OR DELETE ON cdrs
    FOR EACH ROW EXECUTE FUNCTION cdrs_immutable();
