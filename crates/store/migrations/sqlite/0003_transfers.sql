-- Globus connections and the transfers Gantry follows.

-- A user's connected Globus account: tokens encrypted by the server.
CREATE TABLE globus_links (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    identity_id TEXT NOT NULL,
    username TEXT NOT NULL,
    tokens BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    last_error TEXT,
    connected_at INTEGER NOT NULL,
    refreshed_at INTEGER NOT NULL
);

-- A transfer of an image to a Globus endpoint, from request to clean-up.
CREATE TABLE transfers (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    image_ref TEXT NOT NULL,
    digest TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    path TEXT NOT NULL,
    label TEXT,
    sync_level INTEGER,
    status TEXT NOT NULL,
    submission_id TEXT,
    task_id TEXT,
    rule_id TEXT,
    export_id TEXT NOT NULL,
    files INTEGER NOT NULL DEFAULT 0,
    bytes_transferred INTEGER NOT NULL DEFAULT 0,
    bytes_total INTEGER NOT NULL DEFAULT 0,
    rate INTEGER NOT NULL DEFAULT 0,
    faults INTEGER NOT NULL DEFAULT 0,
    nice_status TEXT,
    error TEXT,
    events TEXT NOT NULL DEFAULT '[]',
    cleaned INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_check_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    completed_at INTEGER
);
CREATE INDEX transfers_user ON transfers(user_id, created_at);
CREATE INDEX transfers_open ON transfers(cleaned, next_check_at);
