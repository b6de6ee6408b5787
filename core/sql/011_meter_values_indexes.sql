-- Meter values are the busiest insert of the gateway (tens of thousands of rows a second
-- at fleet scale), and every index is paid on each row: keep only what is read.
-- * Nothing reads meter values by station and time: meter_values_station cost a quarter
--   of each insert and served no query.  An operator reporting on a station's readings
--   outside its sessions can add it back:
--     CREATE INDEX CONCURRENTLY meter_values_station ON meter_values (station_id, ts);
-- * A session's samples (its cost, its CDR, GET /api/v1/transactions/{id}) are read by
--   transaction_id; samples outside a session (an idle connector's clock-aligned
--   readings) never are, so the index leaves them out.  Rebuilt once: on a large table
--   this migration takes a while at the first start after an upgrade.
DROP INDEX IF EXISTS meter_values_station;
DROP INDEX IF EXISTS meter_values_tx;
CREATE INDEX meter_values_tx ON meter_values (transaction_id, ts) WHERE transaction_id IS NOT NULL;
