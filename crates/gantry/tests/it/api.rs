//! The REST API, image detail (SIF and datasets), search, tokens, downloads, OpenAPI.

use crate::clients::make_sif;
use crate::harness::{Backend, TestServer, http, sha256};
use crate::ocikit::{OCI_MANIFEST, Oci};
use reqwest::Method;
use serde_json::{Value, json};

pub const SIF_CONFIG: &str = "application/vnd.sylabs.sif.config.v1+json";
pub const SIF_LAYER: &str = "application/vnd.sylabs.sif.layer.v1.sif";

/// Pushes a SIF as `apptainer push oras://` lays it out; returns the manifest digest.
pub async fn push_sif(o: &Oci, repo: &str, tag: &str, sif: &[u8]) -> String {
    let cfg = o.blob(repo, b"{}").await;
    let layer = o.blob(repo, sif).await;
    let m = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": SIF_CONFIG, "digest": cfg, "size": 2},
        "layers": [{"mediaType": SIF_LAYER, "digest": layer, "size": sif.len(),
            "annotations": {"org.opencontainers.image.title": "image.sif"}}]}))
    .unwrap();
    let r = o.put_manifest(repo, tag, &m, OCI_MANIFEST).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    sha256(&m)
}

/// Pushes a dataset: one layer per file, titled by its relative path.
pub async fn push_dataset(o: &Oci, repo: &str, tag: &str, files: &[(&str, &[u8])]) -> String {
    let cfg = o.blob(repo, b"{}").await;
    let mut layers = vec![];
    for (path, data) in files {
        let d = o.blob(repo, data).await;
        layers.push(json!({"mediaType": "application/octet-stream", "digest": d, "size": data.len(),
            "annotations": {"org.opencontainers.image.title": path}}));
    }
    let m = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.gantry.dataset.v1",
        "config": {"mediaType": "application/vnd.gantry.dataset.config.v1+json", "digest": cfg, "size": 2},
        "layers": layers}))
    .unwrap();
    let r = o.put_manifest(repo, tag, &m, OCI_MANIFEST).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    sha256(&m)
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

async fn get_json(url: &str, auth: Option<&str>) -> (u16, Value) {
    let mut r = http().get(url);
    if let Some(a) = auth {
        r = r.header("authorization", bearer(a));
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn collections_and_members(b: Backend) {
    let s = TestServer::start(b).await;
    let alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let c = http();
    let api = |p: &str| format!("{}/api/v1{p}", s.url);
    let r = c
        .post(api("/collections"))
        .header("authorization", bearer(&alice))
        .json(&json!({"name": "lab", "visibility": "private", "description": "Our lab"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["name"].as_str(), v["role"].as_str(), v["can_manage"].as_bool()),
        (Some("lab"), Some("owner"), Some(true))
    );
    let r = c
        .post(api("/collections"))
        .header("authorization", bearer(&bob))
        .json(&json!({"name": "lab"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let r = c
        .post(api("/collections"))
        .header("authorization", bearer(&bob))
        .json(&json!({"name": "Bad Name"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "NAME_INVALID");
    let r = c.post(api("/collections")).json(&json!({"name": "anon"})).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // Private: invisible to bob and anonymous.
    assert_eq!(get_json(&api("/collections/lab"), Some(&bob)).await.0, 404);
    assert_eq!(get_json(&api("/collections/lab"), None).await.0, 401);
    let (_, v) = get_json(&api("/collections"), Some(&bob)).await;
    assert_eq!(v["collections"], json!([]));
    // Bob cannot change or delete it either, and learns nothing.
    let r = c
        .patch(api("/collections/lab"))
        .header("authorization", bearer(&bob))
        .json(&json!({"visibility": "public"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = c.delete(api("/collections/lab")).header("authorization", bearer(&bob)).send().await.unwrap();
    assert_eq!(r.status(), 404);

    // Alice makes bob a viewer: he sees it, may not manage it.
    let r = c
        .put(api("/collections/lab/members/bob"))
        .header("authorization", bearer(&alice))
        .json(&json!({"role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (st, v) = get_json(&api("/collections/lab"), Some(&bob)).await;
    assert_eq!(st, 200);
    assert_eq!((v["role"].as_str(), v["can_push"].as_bool()), (Some("viewer"), Some(false)));
    assert_eq!(get_json(&api("/collections/lab/members"), Some(&bob)).await.0, 403);
    let (_, v) = get_json(&api("/collections/lab/members"), Some(&alice)).await;
    assert_eq!(v["members"], json!([{"user": "alice", "role": "owner"}, {"user": "bob", "role": "viewer"}]));
    // The last owner cannot be demoted or removed.
    let r = c
        .put(api("/collections/lab/members/alice"))
        .header("authorization", bearer(&alice))
        .json(&json!({"role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let r =
        c.delete(api("/collections/lab/members/alice")).header("authorization", bearer(&alice)).send().await.unwrap();
    assert_eq!(r.status(), 409);
    let r = c
        .put(api("/collections/lab/members/nobody"))
        .header("authorization", bearer(&alice))
        .json(&json!({"role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = c
        .put(api("/collections/lab/members/bob"))
        .header("authorization", bearer(&alice))
        .json(&json!({"role": "king"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    // Visibility: public makes it readable by anyone.
    let r = c
        .patch(api("/collections/lab"))
        .header("authorization", bearer(&alice))
        .json(&json!({"visibility": "public"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(get_json(&api("/collections/lab"), None).await.0, 200);
    let r = c.delete(api("/collections/lab/members/bob")).header("authorization", bearer(&alice)).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = c.delete(api("/collections/lab")).header("authorization", bearer(&alice)).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(get_json(&api("/collections/lab"), Some(&alice)).await.0, 404);
}

async fn sif_detail_and_download(b: Backend) {
    let s = TestServer::start(b).await;
    let tok = s.user("alice").await;
    let o = Oci::as_user(&s.url, "alice", &tok);
    let work = tempfile::tempdir().unwrap();
    let sif = std::fs::read(make_sif(work.path(), "t.sif", &vec![3u8; 100_000]).await).unwrap();
    let digest = push_sif(&o, "lab/tools/gcc", "13.2", &sif).await;
    let (st, v) = get_json(&format!("{}/api/v1/images/lab/tools/gcc:13.2", s.url), Some(&tok)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["digest"], digest.as_str());
    assert_eq!(v["kind"], "sif");
    assert_eq!(v["tags"], json!(["13.2"]));
    assert_eq!(v["pushed_by"], "alice");
    assert_eq!(v["architecture"], "amd64");
    assert!(v["definition"].as_str().unwrap().contains("Bootstrap: docker"));
    assert_eq!(v["labels"]["maintainer"], "lab");
    assert!(v["image_created"].as_str().unwrap().ends_with('Z'));
    assert!(v["size"].as_i64().unwrap() > sif.len() as i64);
    let url = v["download_url"].as_str().unwrap().to_string();
    assert_eq!(url, format!("{}/download/lab/tools/gcc@{digest}", s.url));
    // The same detail by digest.
    let (st, v2) = get_json(&format!("{}/api/v1/images/lab/tools/gcc@{digest}", s.url), Some(&tok)).await;
    assert_eq!((st, &v2["digest"]), (200, &v["digest"]));

    // The HTTPS URL: a token for a private image, Range, HEAD, ETag, filename.
    let c = http();
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    let r = c.get(&url).header("authorization", bearer(&tok)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], format!("\"{}\"", sha256(&sif)).as_str());
    assert_eq!(r.headers()["content-length"], sif.len().to_string().as_str());
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("filename=\"gcc.sif\""));
    assert_eq!(r.bytes().await.unwrap().to_vec(), sif);
    let r = c.get(&url).basic_auth("alice", Some(&tok)).header("range", "bytes=32-41").send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().to_vec(), b"SIF_MAGIC\0");
    let r = c.head(&url).header("authorization", bearer(&tok)).send().await.unwrap();
    assert_eq!(r.headers()["content-length"], sif.len().to_string().as_str());
    // By tag, the filename carries the tag.
    let r = c
        .get(format!("{}/download/lab/tools/gcc:13.2", s.url))
        .header("authorization", bearer(&tok))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("filename=\"gcc_13.2.sif\""));
    // Others: 404. Public: anonymous works.
    let bob = s.user("bob").await;
    assert_eq!(c.get(&url).header("authorization", bearer(&bob)).send().await.unwrap().status(), 404);
    let r = c
        .patch(format!("{}/api/v1/collections/lab", s.url))
        .header("authorization", bearer(&tok))
        .json(&json!({"visibility": "public"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), sif);
    // A wrong token is refused, not ignored.
    assert_eq!(c.get(&url).header("authorization", "Bearer gnt_nope").send().await.unwrap().status(), 401);

    // Search by name and by label.
    let (_, v) = get_json(&format!("{}/api/v1/search?q=gcc", s.url), None).await;
    assert_eq!(v["images"][0]["ref"], "lab/tools/gcc:13.2");
    let (_, v) = get_json(&format!("{}/api/v1/search?label=maintainer=lab", s.url), None).await;
    assert_eq!(v["images"].as_array().unwrap().len(), 1);
    let (_, v) = get_json(&format!("{}/api/v1/search?label=maintainer=other", s.url), None).await;
    assert_eq!(v["images"], json!([]));
    let (_, v) = get_json(&format!("{}/api/v1/search?q=nothing", s.url), None).await;
    assert_eq!(v["images"], json!([]));
    let (_, v) = get_json(&format!("{}/api/v1/repositories/lab/tools/gcc", s.url), None).await;
    assert_eq!(v["tags"][0]["name"], "13.2");

    // rm by tag (owner only).
    let r = c
        .delete(format!("{}/api/v1/images/lab/tools/gcc:13.2", s.url))
        .header("authorization", bearer(&bob))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .delete(format!("{}/api/v1/images/lab/tools/gcc:13.2", s.url))
        .header("authorization", bearer(&tok))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(get_json(&format!("{}/api/v1/images/lab/tools/gcc:13.2", s.url), Some(&tok)).await.0, 404);
}

async fn dataset_files(b: Backend) {
    let s = TestServer::start(b).await;
    let tok = s.user("alice").await;
    let o = Oci::as_user(&s.url, "alice", &tok);
    let files: [(&str, &[u8]); 3] =
        [("README.md", b"# data\n"), ("raw/run 1.h5", b"\x89HDF"), ("raw/run2.h5", b"more")];
    push_dataset(&o, "lab/beamtime", "2026-11", &files).await;
    let (st, v) = get_json(&format!("{}/api/v1/images/lab/beamtime:2026-11", s.url), Some(&tok)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["kind"], "dataset");
    let got = v["files"].as_array().unwrap();
    assert_eq!(got.len(), 3);
    for (f, (path, data)) in got.iter().zip(files.iter()) {
        assert_eq!(f["path"], *path);
        let r =
            http().get(f["download_url"].as_str().unwrap()).header("authorization", bearer(&tok)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let name = path.rsplit('/').next().unwrap().replace(' ', "_");
        assert!(r.headers()["content-disposition"].to_str().unwrap().contains(&name));
        assert_eq!(r.bytes().await.unwrap().to_vec(), *data);
    }
    let r = http()
        .get(format!("{}/download/lab/beamtime:2026-11/absent.txt", s.url))
        .header("authorization", bearer(&tok))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A dataset whose file names escape is refused.
    let cfg = o.blob("lab/bad", b"{}").await;
    let d = o.blob("lab/bad", b"x").await;
    let m = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.gantry.dataset.v1",
        "config": {"mediaType": "application/vnd.gantry.dataset.config.v1+json", "digest": cfg, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": d, "size": 1, "annotations": {"org.opencontainers.image.title": "../../etc/passwd"}}]})).unwrap();
    let r = o.put_manifest("lab/bad", "v1", &m, OCI_MANIFEST).await;
    assert_eq!(r.status(), 400);
}

async fn tokens_api(b: Backend) {
    let s = TestServer::start(b).await;
    let tok = s.user("alice").await;
    let c = http();
    let r = c
        .post(format!("{}/api/v1/tokens", s.url))
        .header("authorization", bearer(&tok))
        .json(&json!({"name": "laptop", "scope": "read", "expires_days": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let new = v["token"].as_str().unwrap().to_string();
    let id = v["id"].as_i64().unwrap();
    let (st, me) = get_json(&format!("{}/api/v1/me", s.url), Some(&new)).await;
    assert_eq!((st, me["username"].as_str(), me["token_scope"].as_str()), (200, Some("alice"), Some("read")));
    let (_, list) = get_json(&format!("{}/api/v1/tokens", s.url), Some(&tok)).await;
    let text = list.to_string();
    assert!(!text.contains(&new) && !text.contains(&tok), "token values are never returned again");
    assert_eq!(list["tokens"].as_array().unwrap().len(), 2);
    // A read token cannot mint or revoke tokens.
    let r = c
        .post(format!("{}/api/v1/tokens", s.url))
        .header("authorization", bearer(&new))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Bob cannot revoke alice's token.
    let bob = s.user("bob").await;
    let r =
        c.delete(format!("{}/api/v1/tokens/{id}", s.url)).header("authorization", bearer(&bob)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r =
        c.delete(format!("{}/api/v1/tokens/{id}", s.url)).header("authorization", bearer(&tok)).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(get_json(&format!("{}/api/v1/me", s.url), Some(&new)).await.0, 401);
}

/// The served document is the committed snapshot, and every documented route exists.
async fn openapi_document(b: Backend) {
    let s = TestServer::start(b).await;
    let r = http().get(format!("{}/api/v1/openapi.json", s.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let served = r.text().await.unwrap();
    let snapshot = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../server/openapi.json")).unwrap();
    assert_eq!(served, snapshot);
    let doc: Value = serde_json::from_str(&served).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let expected = [
        ("get", "/api/v1/openapi.json"),
        ("get", "/api/v1/me"),
        ("get", "/api/v1/tokens"),
        ("post", "/api/v1/tokens"),
        ("delete", "/api/v1/tokens/{id}"),
        ("get", "/api/v1/collections"),
        ("post", "/api/v1/collections"),
        ("get", "/api/v1/collections/{name}"),
        ("patch", "/api/v1/collections/{name}"),
        ("delete", "/api/v1/collections/{name}"),
        ("get", "/api/v1/collections/{name}/members"),
        ("put", "/api/v1/collections/{name}/members/{user}"),
        ("delete", "/api/v1/collections/{name}/members/{user}"),
        ("get", "/api/v1/collections/{name}/images"),
        ("get", "/api/v1/search"),
        ("get", "/api/v1/repositories/{name}"),
        ("get", "/api/v1/images/{reference}"),
        ("delete", "/api/v1/images/{reference}"),
        ("get", "/download/{reference}"),
        ("get", "/api/v1/collections/{name}/groups"),
        ("put", "/api/v1/collections/{name}/groups/{group}"),
        ("delete", "/api/v1/collections/{name}/groups/{group}"),
        ("get", "/api/v1/auth"),
        ("post", "/api/v1/device/authorize"),
        ("post", "/api/v1/device/token"),
        ("get", "/api/v1/globus"),
        ("delete", "/api/v1/globus"),
        ("get", "/api/v1/globus/endpoints"),
        ("get", "/api/v1/globus/endpoints/{id}"),
        ("get", "/api/v1/globus/endpoints/{id}/ls"),
        ("post", "/api/v1/globus/endpoints/{id}/mkdir"),
        ("get", "/api/v1/transfers"),
        ("post", "/api/v1/transfers"),
        ("get", "/api/v1/transfers/{id}"),
        ("post", "/api/v1/transfers/{id}/cancel"),
        ("get", "/api/v1/experiments"),
        ("get", "/api/v1/experiments/{id}"),
        ("put", "/api/v1/experiments/{id}/favorite"),
        ("delete", "/api/v1/experiments/{id}/favorite"),
        ("get", "/api/v1/experiments/{id}/sessions/{n}/files"),
        ("get", "/data/{id}/{n}/{path}"),
    ];
    let mut documented = vec![];
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for m in ops.as_object().unwrap().keys() {
            documented.push((m.clone(), path.clone()));
        }
    }
    documented.sort();
    let mut want: Vec<(String, String)> = expected.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    want.sort();
    assert_eq!(documented, want, "the OpenAPI document and the routes differ");
    // Each documented route is served (not the fallback's "no such endpoint").
    for (m, p) in &want {
        let path = p
            .replace("{id}", "1")
            .replace("{name}", "lab")
            .replace("{user}", "bob")
            .replace("{group}", "g1")
            .replace("{reference}", "lab/x:v1")
            .replace("{n}", "1")
            .replace("{path}", "raw/a");
        let r = http()
            .request(Method::from_bytes(m.to_uppercase().as_bytes()).unwrap(), format!("{}{path}", s.url))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let body = r.text().await.unwrap();
        assert!(!body.contains("no such endpoint"), "{m} {p} is documented but not served");
    }
}

crate::both_backends!(collections_and_members, sif_detail_and_download, dataset_files, tokens_api, openapi_document);
