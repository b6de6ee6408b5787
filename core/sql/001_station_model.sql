-- The version-neutral station model (DESIGN §4).  Owned by the core; plugins read it
-- (the REST gateway queries it directly) and write it only through pl_station_api.
CREATE TABLE stations (
    id              text PRIMARY KEY,
    protocol        text,
    vendor          text,
    model           text,
    serial          text,
    firmware        text,
    iccid           text,
    imsi            text,
    meter_type      text,
    meter_serial    text,
    boot_status     text,
    online          boolean NOT NULL DEFAULT false,
    node            text,
    remote_addr     text,
    connected_at    timestamptz,
    disconnected_at timestamptz,
    last_seen       timestamptz,
    password_hash   text,            -- security profile 1 (Basic auth), "sha256:<salt>:<hex>"
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE connectors (
    station_id  text NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
    evse        int  NOT NULL,
    connector   int  NOT NULL,
    status      text NOT NULL,
    error_code  text,
    info        text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, evse, connector)
);

CREATE TABLE id_tokens (
    id_token    text PRIMARY KEY,
    token_type  text NOT NULL DEFAULT 'ISO14443',
    status      text NOT NULL DEFAULT 'Accepted',
    expiry      timestamptz,
    parent      text,
    group_id    text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE transactions (
    id              bigserial PRIMARY KEY,
    station_id      text NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
    station_tx_id   text NOT NULL,
    evse            int,
    connector       int,
    id_token        text,
    id_token_type   text,
    reservation_id  int,
    meter_start     double precision,
    meter_last      double precision,
    meter_stop      double precision,
    started_at      timestamptz NOT NULL,
    stopped_at      timestamptz,
    stop_reason     text,
    stop_id_token   text,
    charging_state  text,
    seq_no          int,
    cost            numeric,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (station_id, station_tx_id)
);
CREATE INDEX transactions_active ON transactions (station_id) WHERE stopped_at IS NULL;
CREATE INDEX transactions_started ON transactions (started_at);

CREATE TABLE meter_values (
    id              bigserial PRIMARY KEY,
    station_id      text NOT NULL,
    transaction_id  bigint REFERENCES transactions(id) ON DELETE CASCADE,
    evse            int,
    connector       int,
    ts              timestamptz NOT NULL,
    measurand       text NOT NULL DEFAULT 'Energy.Active.Import.Register',
    value           double precision NOT NULL,
    unit            text,
    phase           text,
    context         text,
    location        text
);
CREATE INDEX meter_values_tx ON meter_values (transaction_id, ts);
CREATE INDEX meter_values_station ON meter_values (station_id, ts);

-- Append-only station records: security events, firmware/diagnostics/log status, events.
CREATE TABLE station_records (
    id          bigserial PRIMARY KEY,
    station_id  text NOT NULL,
    kind        text NOT NULL,
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX station_records_station ON station_records (station_id, kind, id);

-- Per-station documents: configuration keys, device-model variables, local list,
-- installed certificates, charging profiles, reservations, display messages...
CREATE TABLE station_docs (
    station_id  text NOT NULL,
    kind        text NOT NULL,
    key         text NOT NULL,
    value       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, kind, key)
);

CREATE TABLE commands (
    id           uuid PRIMARY KEY,
    station_id   text NOT NULL,
    op           text NOT NULL,
    status       text NOT NULL,
    args         jsonb,
    result       jsonb,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX commands_station ON commands (station_id, created_at DESC);

CREATE TABLE api_keys (
    name        text PRIMARY KEY,
    key_hash    text NOT NULL,      -- hex SHA-256 of the key
    scope       text NOT NULL CHECK (scope IN ('read','operator','admin')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
