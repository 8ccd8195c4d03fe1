-- What free-text search reads besides the repository name: the title and description
-- annotations and the SIF definition file, lower-cased and cut to 16 KiB.
CREATE TABLE manifest_texts (
    manifest_id INTEGER PRIMARY KEY REFERENCES manifests(id) ON DELETE CASCADE,
    body TEXT NOT NULL
);
INSERT INTO manifest_texts (manifest_id, body)
    SELECT id, substr(lower(t), 1, 16384) FROM (
        SELECT m.id AS id,
            coalesce(CASE WHEN json_valid(m.annotations) THEN json_extract(m.annotations, '$."org.opencontainers.image.title"') END, '') || char(10) ||
            coalesce(CASE WHEN json_valid(m.annotations) THEN json_extract(m.annotations, '$."org.opencontainers.image.description"') END, '') || char(10) ||
            coalesce(CASE WHEN json_valid(m.info) THEN json_extract(m.info, '$.definition') END, '') AS t
        FROM manifests m
    ) WHERE trim(t, char(10)) <> '';
