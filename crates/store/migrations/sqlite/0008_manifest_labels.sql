-- Labels (manifest annotations and SIF labels), searchable by the database.
CREATE TABLE manifest_labels (
    manifest_id INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX manifest_labels_name_value ON manifest_labels (name, value);
CREATE INDEX manifest_labels_manifest ON manifest_labels (manifest_id);
INSERT INTO manifest_labels (manifest_id, name, value)
    SELECT m.id, j.key, CASE WHEN j.type = 'text' THEN j.atom ELSE j.value END
    FROM manifests m, json_each(m.annotations) j
    WHERE m.annotations IS NOT NULL AND json_valid(m.annotations) AND json_type(m.annotations) = 'object';
INSERT INTO manifest_labels (manifest_id, name, value)
    SELECT m.id, j.key, CASE WHEN j.type = 'text' THEN j.atom ELSE j.value END
    FROM manifests m, json_each(m.info, '$.labels') j
    WHERE m.info IS NOT NULL AND json_valid(m.info) AND json_type(m.info, '$.labels') = 'object';
