-- The transfer options a user chose (Globus's defaults for a Gantry transfer: verify
-- checksums, do not preserve modification times).
ALTER TABLE transfers ADD COLUMN verify_checksum INTEGER NOT NULL DEFAULT 1;
ALTER TABLE transfers ADD COLUMN preserve_timestamp INTEGER NOT NULL DEFAULT 0;
