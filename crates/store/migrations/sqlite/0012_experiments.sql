-- The facility: which Gantry user is which facility (user office) user, the experiments
-- synced from the user office (or imported), their sessions and members, favourites, and
-- how each facility user's last sync went.
CREATE TABLE facility_accounts (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    username TEXT NOT NULL UNIQUE,
    via TEXT NOT NULL,
    bound_at BIGINT NOT NULL
);
CREATE TABLE experiments (
    proposal_id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    beam_line TEXT NOT NULL,
    uid BIGINT,
    gid BIGINT,
    synced_at BIGINT NOT NULL
);
CREATE TABLE experiment_sessions (
    proposal_id TEXT NOT NULL REFERENCES experiments(proposal_id) ON DELETE CASCADE,
    session_number BIGINT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    -- JSON object: volume name -> directory relative to the datasets root.
    data_set_path TEXT NOT NULL,
    PRIMARY KEY (proposal_id, session_number)
);
-- Members by facility username; `source` is 'office' (replaced by each sync of that
-- user) or 'import' (kept until imported again).
CREATE TABLE experiment_members (
    proposal_id TEXT NOT NULL REFERENCES experiments(proposal_id) ON DELETE CASCADE,
    username TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (proposal_id, username)
);
CREATE INDEX experiment_members_username ON experiment_members(username);
CREATE TABLE experiment_favorites (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    proposal_id TEXT NOT NULL REFERENCES experiments(proposal_id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, proposal_id)
);
CREATE TABLE experiment_syncs (
    username TEXT PRIMARY KEY,
    attempted_at BIGINT NOT NULL,
    synced_at BIGINT,
    error TEXT
);
