-- Signed meter values (OCPP 2.0.1 signedMeterValue, 1.6 SignedData): kept with the sample
-- they sign, and gathered into the charge detail record at the stop.
ALTER TABLE meter_values ADD COLUMN signed jsonb;
CREATE INDEX meter_values_signed ON meter_values (transaction_id) WHERE signed IS NOT NULL;
