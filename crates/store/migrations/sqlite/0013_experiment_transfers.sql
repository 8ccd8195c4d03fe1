-- Transfers of experiment data: which experiment, session and folder the user chose,
-- the facility's Globus collection they come from, and what is sent from it (a JSON list
-- of items with the access rule Gantry gave for each, so that the rule can be removed
-- however the transfer ends).
ALTER TABLE transfers ADD COLUMN experiment TEXT;
ALTER TABLE transfers ADD COLUMN session_number BIGINT;
ALTER TABLE transfers ADD COLUMN source_path TEXT;
ALTER TABLE transfers ADD COLUMN source_collection TEXT;
ALTER TABLE transfers ADD COLUMN sources TEXT NOT NULL DEFAULT '[]';
