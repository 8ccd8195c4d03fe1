-- Signing keys are derived from the key file (token.key) and never kept in the database.
DELETE FROM server_keys;
