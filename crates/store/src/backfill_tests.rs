//! Migrations that fill new tables from rows older versions wrote: run the migrations
//! before them, write such rows, run the rest, and look.

use crate::{Backend, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use sqlx::Row;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;

/// Runs the migrations numbered below `before`, writes a SIF manifest with a title and
/// labels the way older versions did, then runs the rest; returns the database.
async fn older_rows(b: Backend, before: i64) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let dir = std::env::temp_dir().join(format!("gantry-backfill-{}", crate::testing::random_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = crate::testing::database_url(b, &dir).await;
    let url = if b == Backend::Sqlite { format!("{url}?mode=rwc") } else { url };
    let pool = AnyPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    let all = match b {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    };
    let early: Vec<_> = all.iter().filter(|m| m.version < before).cloned().collect();
    Migrator::with_migrations(early).run(&pool).await.unwrap();
    for sql in [
        "INSERT INTO collections (name, visibility, created_at) VALUES ('lab', 'public', 1)",
        "INSERT INTO repositories (collection_id, name, created_at) VALUES (1, 'lab/tools', 1)",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let annotations = r#"{"org.opencontainers.image.title":"Beamline TOOLS","team":"optics"}"#;
    let info =
        r#"{"id":"x","version":"01","definition":"Bootstrap: docker\nFrom: debian","labels":{"maintainer":"ana"}}"#;
    sqlx::query(
        "INSERT INTO manifests (repo_id, digest, media_type, size, total_size, content, annotations, info, created_at) \
         VALUES (1, 'sha256:00', 'application/vnd.oci.image.manifest.v1+json', 2, 2, $1, $2, $3, 1)",
    )
    .bind(b"{}".to_vec())
    .bind(annotations)
    .bind(info)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO manifests (repo_id, digest, media_type, size, total_size, content, created_at) \
         VALUES (1, 'sha256:01', 'application/vnd.oci.image.manifest.v1+json', 2, 2, $1, 1)",
    )
    .bind(b"{}".to_vec())
    .execute(&pool)
    .await
    .unwrap();
    all.run(&pool).await.unwrap();
    pool
}

async fn labels_and_texts_are_filled_from_older_rows(b: Backend) {
    let pool = older_rows(b, 8).await;
    let rows = sqlx::query("SELECT name, value FROM manifest_labels ORDER BY name").fetch_all(&pool).await.unwrap();
    let labels: Vec<(String, String)> = rows.iter().map(|r| (r.get("name"), r.get("value"))).collect();
    assert_eq!(
        labels,
        [("maintainer", "ana"), ("org.opencontainers.image.title", "Beamline TOOLS"), ("team", "optics")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    let rows = sqlx::query("SELECT manifest_id, body FROM manifest_texts").fetch_all(&pool).await.unwrap();
    assert_eq!(rows.len(), 1, "a manifest without title or definition has no text");
    let body: String = rows[0].get("body");
    assert_eq!(body, "beamline tools\n\nbootstrap: docker\nfrom: debian");
}

crate::both_backends!(labels_and_texts_are_filled_from_older_rows);
