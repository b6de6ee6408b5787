-- Customers and their ID tokens: the gateway decides who may charge (core/tokens.c).
-- A token's value is unique per type; a token with transactions is deactivated
-- (active = false), never deleted, so its sessions keep their history.
CREATE TABLE customers (
    id               bigserial PRIMARY KEY,
    name             text NOT NULL,
    email            text,
    phone            text,
    external_ref     text UNIQUE,
    language         text,
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    allow_concurrent boolean NOT NULL DEFAULT false,  -- several sessions at once
    metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE id_tokens DROP CONSTRAINT id_tokens_pkey;
ALTER TABLE id_tokens ADD COLUMN id bigserial PRIMARY KEY;
ALTER TABLE id_tokens ADD CONSTRAINT id_tokens_type_value UNIQUE (token_type, id_token);
ALTER TABLE id_tokens ADD CONSTRAINT id_tokens_type_check CHECK (token_type IN
    ('ISO14443', 'ISO15693', 'KeyCode', 'eMAID', 'Central', 'MacAddress', 'Local', 'NoAuthorization'));
ALTER TABLE id_tokens ADD CONSTRAINT id_tokens_status_check CHECK (status IN
    ('Accepted', 'Blocked', 'Expired', 'Invalid'));
ALTER TABLE id_tokens ADD COLUMN customer_id bigint REFERENCES customers(id) ON DELETE SET NULL;
ALTER TABLE id_tokens ADD COLUMN contract_id text;          -- eMAID, roaming and Plug & Charge
ALTER TABLE id_tokens ADD COLUMN stations text[];           -- NULL: valid at every station
ALTER TABLE id_tokens ADD COLUMN active boolean NOT NULL DEFAULT true;
ALTER TABLE id_tokens ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
UPDATE id_tokens SET group_id = parent WHERE group_id IS NULL AND parent IS NOT NULL;
CREATE INDEX id_tokens_value ON id_tokens (id_token);
CREATE INDEX id_tokens_customer ON id_tokens (customer_id);
CREATE INDEX id_tokens_updated ON id_tokens (updated_at);
CREATE INDEX transactions_id_token ON transactions (id_token);

-- changes made with plain SQL are picked up by the periodic refresh
CREATE FUNCTION pipelet_touch() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE TRIGGER id_tokens_touch BEFORE UPDATE ON id_tokens FOR EACH ROW EXECUTE FUNCTION pipelet_touch();
CREATE TRIGGER customers_touch BEFORE UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION pipelet_touch();

-- API keys managed through /api/v1/keys: the secret is shown once, stored as a digest
ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
ALTER TABLE api_keys ADD COLUMN revoked_at timestamptz;
