-- Globus connections and the transfers Gantry follows.

-- A user's connected Globus account: tokens encrypted by the server.
CREATE TABLE globus_links (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    identity_id TEXT NOT NULL,
    username TEXT NOT NULL,
    tokens BYTEA NOT NULL,
    expires_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    last_error TEXT,
    connected_at BIGINT NOT NULL,
    refreshed_at BIGINT NOT NULL
);

-- A transfer of an image to a Globus endpoint, from request to clean-up.
CREATE TABLE transfers (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    image_ref TEXT NOT NULL,
    digest TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    path TEXT NOT NULL,
    label TEXT,
    sync_level BIGINT,
    status TEXT NOT NULL,
    submission_id TEXT,
    task_id TEXT,
    rule_id TEXT,
    export_id TEXT NOT NULL,
    files BIGINT NOT NULL DEFAULT 0,
    bytes_transferred BIGINT NOT NULL DEFAULT 0,
    bytes_total BIGINT NOT NULL DEFAULT 0,
    rate BIGINT NOT NULL DEFAULT 0,
    faults BIGINT NOT NULL DEFAULT 0,
    nice_status TEXT,
    error TEXT,
    events TEXT NOT NULL DEFAULT '[]',
    cleaned BIGINT NOT NULL DEFAULT 0,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_check_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX transfers_user ON transfers(user_id, created_at);
CREATE INDEX transfers_open ON transfers(cleaned, next_check_at);
