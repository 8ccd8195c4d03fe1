//! The real clients: oras-py pushes and pulls a SIF made by Debian's siftool; Debian's
//! skopeo copies an OCI image in and back out byte-identical.

use crate::harness::{Backend, TestServer, sha256};
use std::path::{Path, PathBuf};
use tokio::process::Command;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The Python with the pinned clients (scripts/test sets GANTRY_TEST_PYTHON).
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("GANTRY_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let p = repo_root().join(".venv/bin/python");
    assert!(p.exists(), "no Python with the test clients: run the suite with scripts/test");
    p
}

pub async fn run(cmd: &mut Command) -> String {
    let out = cmd.output().await.unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{cmd:?} failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// Makes a real SIF with siftool: a definition file, labels and a squashfs-typed partition.
pub async fn make_sif(dir: &Path, name: &str, payload: &[u8]) -> PathBuf {
    let def = "Bootstrap: docker\nFrom: alpine:3.19\n\n%labels\n    maintainer lab\n";
    make_sif_with(dir, name, payload, def, r#"{"org.label-schema.version":"1.2.3","maintainer":"lab"}"#).await
}

/// [`make_sif`] with a given definition file and labels object.
pub async fn make_sif_with(dir: &Path, name: &str, payload: &[u8], definition: &str, labels_json: &str) -> PathBuf {
    let sif = dir.join(name);
    let def = dir.join(format!("{name}.def"));
    std::fs::write(&def, definition).unwrap();
    let labels = dir.join(format!("{name}.labels.json"));
    std::fs::write(&labels, labels_json).unwrap();
    let part = dir.join(format!("{name}.part"));
    std::fs::write(&part, payload).unwrap();
    run(Command::new("siftool").arg("new").arg(&sif)).await;
    run(Command::new("siftool").args(["add", "--datatype", "1"]).arg(&sif).arg(&def)).await;
    run(Command::new("siftool").args(["add", "--datatype", "3"]).arg(&sif).arg(&labels)).await;
    run(Command::new("siftool")
        .args(["add", "--datatype", "4", "--parttype", "1", "--partfs", "1", "--partarch", "2"])
        .arg(&sif)
        .arg(&part))
    .await;
    sif
}

async fn oras_pushes_and_pulls_a_sif(b: Backend) {
    let s = TestServer::start(b).await;
    let tok = s.user("alice").await;
    let work = tempfile::tempdir().unwrap();
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let sif = make_sif(work.path(), "tool.sif", &payload).await;
    let out = work.path().join("out");
    let host = s.url.trim_start_matches("http://");
    run(Command::new(python())
        .env("DOCKER_CONFIG", work.path())
        .arg(repo_root().join("tests/clients/oras_roundtrip.py"))
        .args([host, "alice", &tok, "lab/tool:1.0"])
        .arg(&sif)
        .arg(&out))
    .await;
    let pulled = std::fs::read(out.join("tool.sif")).unwrap();
    assert_eq!(sha256(&pulled), sha256(&std::fs::read(&sif).unwrap()), "pulled SIF differs");
    // The server read the SIF header it stored.
    let repo = s.state.store().repo_by_name("lab/tool").await.unwrap().unwrap();
    let m =
        s.state.store().manifest_by_tag(repo.id, &gantry_domain::Tag::parse("1.0").unwrap()).await.unwrap().unwrap();
    assert_eq!(m.config_media_type.as_deref(), Some("application/vnd.sylabs.sif.config.v1+json"));
    let info: serde_json::Value = serde_json::from_str(m.info.as_deref().expect("SIF info")).unwrap();
    assert_eq!(info["architecture"], "amd64");
    assert!(info["definition"].as_str().unwrap().contains("From: alpine:3.19"));
    assert_eq!(info["labels"]["org.label-schema.version"], "1.2.3");
    assert_eq!(info["partitions"][0]["fs_type"], "squashfs");
}

/// Writes a one-layer OCI image layout with tag `v1`.
fn oci_layout(dir: &Path) {
    use serde_json::json;
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let put = |data: &[u8]| -> String {
        let d = sha256(data);
        std::fs::write(blobs.join(&d[7..]), data).unwrap();
        d
    };
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("etc")).unwrap();
    std::fs::write(src.path().join("etc/hello"), "hello from gantry\n").unwrap();
    let tar = std::process::Command::new("tar").arg("-C").arg(src.path()).args(["-cf", "-", "etc"]).output().unwrap();
    assert!(tar.status.success());
    let layer = tar.stdout;
    let ld = put(&layer);
    let cfg = serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [ld]}, "config": {}}))
    .unwrap();
    let cd = put(&cfg);
    let man =
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cfg.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": layer.len()}]}))
        .unwrap();
    let md = put(&man);
    let index = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": md, "size": man.len(), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

fn blob_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    v.sort();
    v
}

/// skopeo with a Docker configuration of this test's own (tests run side by side).
fn skopeo(dir: &Path) -> Command {
    let mut c = Command::new("skopeo");
    c.env("DOCKER_CONFIG", dir);
    c
}

async fn skopeo_copies_in_and_out_byte_identical(b: Backend) {
    let s = TestServer::start(b).await;
    let tok = s.user("alice").await;
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    oci_layout(&src);
    let host = s.url.trim_start_matches("http://").to_string();
    let creds = format!("alice:{tok}");
    let auth = work.path().join("auth.json");
    // skopeo login with the token, as a user would.
    run(skopeo(work.path())
        .args(["login", "--tls-verify=false", "--authfile"])
        .arg(&auth)
        .args(["-u", "alice", "-p", &tok, &host]))
    .await;
    let bad = skopeo(work.path())
        .args(["login", "--tls-verify=false", "--authfile"])
        .arg(work.path().join("bad.json"))
        .args(["-u", "alice", "-p", "gnt_wrong", &host])
        .output()
        .await
        .unwrap();
    assert!(!bad.status.success(), "a wrong token must not log in");
    run(skopeo(work.path())
        .args(["copy", "--preserve-digests", "--dest-tls-verify=false", "--authfile"])
        .arg(&auth)
        .arg(format!("oci:{}:v1", src.display()))
        .arg(format!("docker://{host}/lab/hello:v1")))
    .await;
    let out = work.path().join("out");
    run(skopeo(work.path())
        .args(["copy", "--preserve-digests", "--src-tls-verify=false", "--src-creds", &creds])
        .arg(format!("docker://{host}/lab/hello:v1"))
        .arg(format!("oci:{}:v1", out.display())))
    .await;
    assert_eq!(blob_files(&src), blob_files(&out), "blobs differ after the round trip");
    let inspect = run(skopeo(work.path())
        .args(["inspect", "--raw", "--tls-verify=false", "--creds", &creds])
        .arg(format!("docker://{host}/lab/hello:v1")))
    .await;
    assert!(inspect.contains("application/vnd.oci.image.manifest.v1+json"));
}

crate::both_backends!(oras_pushes_and_pulls_a_sif, skopeo_copies_in_and_out_byte_identical);
