-- An administrator can disable an account: it keeps its data, but nothing it holds
-- (sessions, API tokens, Globus tokens) signs it in until it is enabled again.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
-- The names of Globus groups as Globus Groups last told them (at a sign-in), so that
-- pages show names rather than ids.
CREATE TABLE group_names (
    group_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    seen_at BIGINT NOT NULL
);
