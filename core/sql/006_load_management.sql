-- Load management: a site's grid connection (a limit in A per phase or in W, a safety
-- margin, an optional schedule of lower limits), what the balancer gives a session (a
-- minimum, below which a session is paused) and what it counts for a station that does
-- not answer or refuses its profile (station_max_current).  Amperes are per phase.
ALTER TABLE sites
    ADD COLUMN limit_value         numeric CHECK (limit_value IS NULL OR limit_value >= 0),
    ADD COLUMN limit_unit          text NOT NULL DEFAULT 'A' CHECK (limit_unit IN ('A', 'W')),
    ADD COLUMN phases              smallint NOT NULL DEFAULT 3 CHECK (phases IN (1, 3)),
    ADD COLUMN voltage             numeric NOT NULL DEFAULT 230 CHECK (voltage > 0 AND voltage <= 1000),
    ADD COLUMN margin_percent      numeric NOT NULL DEFAULT 0 CHECK (margin_percent >= 0 AND margin_percent < 100),
    ADD COLUMN min_current         numeric NOT NULL DEFAULT 6 CHECK (min_current >= 0 AND min_current <= 1000),
    ADD COLUMN station_max_current numeric NOT NULL DEFAULT 32 CHECK (station_max_current > 0 AND station_max_current <= 1000),
    ADD COLUMN schedule            jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN time_zone           text NOT NULL DEFAULT 'UTC',
    ADD COLUMN min_interval_s      integer NOT NULL DEFAULT 10 CHECK (min_interval_s >= 0 AND min_interval_s <= 3600),
    ADD COLUMN settle_s            integer NOT NULL DEFAULT 30 CHECK (settle_s >= 0 AND settle_s <= 3600);

-- A limit an operator set on a station (PUT /api/v1/stations/{id}/limit): sent to the
-- station as a gateway-owned ChargePointMaxProfile / ChargingStationMaxProfile (evse 0)
-- or TxDefaultProfile (evse N) whenever it connects, until "until".
CREATE TABLE station_limits (
    station_id   text NOT NULL,
    evse         integer NOT NULL CHECK (evse >= 0),
    limit_value  numeric NOT NULL CHECK (limit_value >= 0),
    limit_unit   text NOT NULL CHECK (limit_unit IN ('A', 'W')),
    until        timestamptz,
    status       text NOT NULL DEFAULT 'pending',
    command_id   text,
    set_at       timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, evse)
);
