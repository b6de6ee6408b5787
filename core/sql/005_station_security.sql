-- OCPP security profiles (1: Basic auth, 2: TLS + Basic auth, 3: TLS with the station's
-- client certificate) and the client certificates stations connected with.
-- stations.security_profile: the profile a station must connect with; NULL means "as its
-- credentials say" (1 with a password, else none).  A connection below it is refused.
ALTER TABLE stations ADD COLUMN security_profile smallint
    CHECK (security_profile BETWEEN 0 AND 3);

-- Every certificate a station presented on the TLS listener (profile 3).  retired_at:
-- the operator said the certificate is no longer accepted (after a rotation); the
-- handshake refuses it from then on.
CREATE TABLE station_certificates (
    station_id   text NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
    fingerprint  text NOT NULL,          -- SHA-256 of the DER, lowercase hex
    subject_cn   text NOT NULL,
    serial       text,
    not_before   timestamptz NOT NULL,
    not_after    timestamptz NOT NULL,
    first_seen   timestamptz NOT NULL DEFAULT now(),
    last_seen    timestamptz NOT NULL DEFAULT now(),
    retired_at   timestamptz,
    PRIMARY KEY (station_id, fingerprint)
);
CREATE INDEX station_certificates_expiry ON station_certificates (not_after) WHERE retired_at IS NULL;

-- Profile changes asked through the API and what the station answered.
CREATE TABLE security_profile_changes (
    id            bigserial PRIMARY KEY,
    station_id    text NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
    from_profile  smallint,
    to_profile    smallint NOT NULL CHECK (to_profile BETWEEN 0 AND 3),
    status        text NOT NULL,         -- Accepted | Rejected | Failed | ...
    detail        text,
    requested_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX security_profile_changes_station ON security_profile_changes (station_id, requested_at);
