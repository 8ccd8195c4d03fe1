-- What a device sign-in's token may do and how long it lives, chosen on the approval page.
ALTER TABLE device_logins ADD COLUMN scope TEXT NOT NULL DEFAULT 'write';
ALTER TABLE device_logins ADD COLUMN token_days INTEGER;
