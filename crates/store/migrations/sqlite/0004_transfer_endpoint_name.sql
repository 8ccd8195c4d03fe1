-- The destination endpoint's display name, as Globus gave it when the transfer started.
ALTER TABLE transfers ADD COLUMN endpoint_name TEXT;
