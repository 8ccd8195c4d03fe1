-- What free-text search reads besides the repository name: the title and description
-- annotations and the SIF definition file, lower-cased and cut to 16 KiB.
CREATE TABLE manifest_texts (
    manifest_id BIGINT PRIMARY KEY REFERENCES manifests(id) ON DELETE CASCADE,
    body TEXT NOT NULL
);
INSERT INTO manifest_texts (manifest_id, body)
    SELECT id, substr(lower(t), 1, 16384) FROM (
        SELECT m.id AS id,
            coalesce(m.annotations::jsonb ->> 'org.opencontainers.image.title', '') || chr(10) ||
            coalesce(m.annotations::jsonb ->> 'org.opencontainers.image.description', '') || chr(10) ||
            coalesce(m.info::jsonb ->> 'definition', '') AS t
        FROM manifests m
    ) s WHERE btrim(t, chr(10)) <> '';
