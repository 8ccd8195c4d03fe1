-- Labels (manifest annotations and SIF labels), searchable by the database.
CREATE TABLE manifest_labels (
    manifest_id BIGINT NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX manifest_labels_name_value ON manifest_labels (name, value);
CREATE INDEX manifest_labels_manifest ON manifest_labels (manifest_id);
INSERT INTO manifest_labels (manifest_id, name, value)
    SELECT m.id, j.key, j.value
    FROM manifests m, jsonb_each_text(m.annotations::jsonb) j
    WHERE m.annotations IS NOT NULL AND jsonb_typeof(m.annotations::jsonb) = 'object';
INSERT INTO manifest_labels (manifest_id, name, value)
    SELECT m.id, j.key, j.value
    FROM manifests m, jsonb_each_text(m.info::jsonb -> 'labels') j
    WHERE m.info IS NOT NULL AND jsonb_typeof(m.info::jsonb -> 'labels') = 'object';
