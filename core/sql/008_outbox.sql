-- The durable outbox (pipelet/outbox.h): messages plugins deliver to others, written
-- before they are sent.  Rows of one (queue, key) go one at a time in (rank, id) order;
-- a dedupe name exists once per queue.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    queue           text NOT NULL,
    kind            text NOT NULL,
    key             text NOT NULL DEFAULT '',
    rank            int NOT NULL DEFAULT 0,
    dedupe          text,
    body            jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     int,
    last_code       text,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz
);
CREATE UNIQUE INDEX outbox_dedupe ON outbox (queue, dedupe) WHERE dedupe IS NOT NULL;
CREATE INDEX outbox_due ON outbox (queue, next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX outbox_key ON outbox (queue, key, rank, id) WHERE status = 'pending';
CREATE INDEX outbox_recent ON outbox (queue, id DESC);
