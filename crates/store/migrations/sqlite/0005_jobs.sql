-- Long work as jobs with a lease: a process claims a due job (lease_owner, lease_until),
-- works on it, then reschedules or removes it. Another process takes a job over only
-- when its lease has run out.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs(kind, due_at);

-- Unfinished transfers become jobs; their schedule moves there.
INSERT INTO jobs (id, kind, subject, due_at, attempts, created_at)
    SELECT 'transfer:' || id, 'transfer', id, next_check_at, attempts, created_at FROM transfers WHERE cleaned = 0;
DROP INDEX transfers_open;
ALTER TABLE transfers DROP COLUMN next_check_at;
ALTER TABLE transfers DROP COLUMN attempts;
