//! The four workflows of the OCI distribution spec (pull, push, content discovery,
//! content management), plus the error cases the spec names.

use crate::harness::{Backend, TestServer, sha256};
use crate::ocikit::{OCI_INDEX, OCI_MANIFEST, Oci, error_code, manifest};
use reqwest::Method;
use serde_json::{Value, json};

async fn pull_workflow(b: Backend) {
    let s = TestServer::start(b).await;
    let tok = s.user("alice").await;
    let alice = Oci::as_user(&s.url, "alice", &tok);
    let layer = b"layer bytes 0123456789".to_vec();
    let (digest, mbytes) = alice.image("lab/tools", "v1", &layer).await;

    // By tag and by digest, GET and HEAD.
    for reference in ["v1", digest.as_str()] {
        let r = alice.req(Method::GET, &format!("/v2/lab/tools/manifests/{reference}")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], OCI_MANIFEST);
        assert_eq!(r.headers()["docker-content-digest"], digest.as_str());
        assert_eq!(r.bytes().await.unwrap().to_vec(), mbytes);
        let r = alice.req(Method::HEAD, &format!("/v2/lab/tools/manifests/{reference}")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-length"], mbytes.len().to_string().as_str());
    }
    // Blobs, whole and by range.
    let ld = sha256(&layer);
    let r = alice.req(Method::GET, &format!("/v2/lab/tools/blobs/{ld}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-content-digest"], ld.as_str());
    assert_eq!(r.headers()["etag"], format!("\"{ld}\"").as_str());
    assert_eq!(r.bytes().await.unwrap().to_vec(), layer);
    let r = alice
        .req(Method::GET, &format!("/v2/lab/tools/blobs/{ld}"))
        .header("range", "bytes=6-10")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], format!("bytes 6-10/{}", layer.len()).as_str());
    assert_eq!(r.bytes().await.unwrap().to_vec(), &layer[6..11]);
    let r = alice
        .req(Method::GET, &format!("/v2/lab/tools/blobs/{ld}"))
        .header("range", "bytes=999-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()["content-range"], format!("bytes */{}", layer.len()).as_str());
    let r = alice.req(Method::HEAD, &format!("/v2/lab/tools/blobs/{ld}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], layer.len().to_string().as_str());

    // Unknown things.
    let r = alice.req(Method::GET, "/v2/lab/tools/manifests/nope").send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
    let r = alice.req(Method::GET, &format!("/v2/lab/tools/blobs/{}", sha256(b"absent"))).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
    let r = alice.req(Method::GET, "/v2/lab/absent/manifests/v1").send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");

    // The collection made by the push is private: anonymous gets a challenge, others 404.
    let anon = Oci::new(&s.url, None);
    let r = anon.req(Method::GET, "/v2/lab/tools/manifests/v1").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer realm="));
    let bob = Oci::as_user(&s.url, "bob", &s.user("bob").await);
    let r = bob.req(Method::GET, "/v2/lab/tools/manifests/v1").send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");
    let r = bob.req(Method::GET, &format!("/v2/lab/tools/blobs/{ld}")).send().await.unwrap();
    assert_eq!(r.status(), 404);

    // Public: anyone pulls.
    let c = s.state.store().collection_access("lab", None).await.unwrap().unwrap().collection;
    s.state.store().update_collection(c.id, Some(gantry_domain::Visibility::Public), None).await.unwrap();
    let r = anon.req(Method::GET, "/v2/lab/tools/manifests/v1").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = anon.req(Method::GET, &format!("/v2/lab/tools/blobs/{ld}")).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), layer);
}

async fn push_workflow(b: Backend) {
    let s = TestServer::start(b).await;
    let tok = s.user("alice").await;
    let a = Oci::as_user(&s.url, "alice", &tok);
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let d = sha256(&data);

    // Chunked upload: POST, PATCH × n with Content-Range, GET status, PUT.
    let r = a.req(Method::POST, "/v2/lab/data/blobs/uploads/").send().await.unwrap();
    assert_eq!(r.status(), 202);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with("/v2/lab/data/blobs/uploads/"));
    let mut off = 0;
    for chunk in data.chunks(65_536) {
        let r = a
            .req(Method::PATCH, &loc)
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("{}-{}", off, off + chunk.len() - 1))
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        off += chunk.len();
        assert_eq!(r.headers()["range"], format!("0-{}", off - 1).as_str());
    }
    let r = a.req(Method::GET, &loc).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["range"], format!("0-{}", data.len() - 1).as_str());
    // A chunk that does not continue where the upload is: 416, nothing changes.
    let r = a.req(Method::PATCH, &loc).header("content-range", "10-19").body(vec![0u8; 10]).send().await.unwrap();
    assert_eq!(r.status(), 416);
    let r = a.req(Method::GET, &loc).send().await.unwrap();
    assert_eq!(r.headers()["range"], format!("0-{}", data.len() - 1).as_str());
    // Not visible before PUT.
    let r = a.req(Method::HEAD, &format!("/v2/lab/data/blobs/{d}")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = a.req(Method::PUT, &format!("{loc}?digest={d}")).send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], format!("/v2/lab/data/blobs/{d}").as_str());
    let r = a.req(Method::GET, &format!("/v2/lab/data/blobs/{d}")).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), data);
    // The session is gone.
    let r = a.req(Method::GET, &loc).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");

    // POST then PUT with the whole body.
    let other = b"second blob".to_vec();
    let r = a.req(Method::POST, "/v2/lab/data/blobs/uploads/").send().await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = a.req(Method::PUT, &format!("{loc}?digest={}", sha256(&other))).body(other.clone()).send().await.unwrap();
    assert_eq!(r.status(), 201);

    // Digest mismatch: DIGEST_INVALID, nothing published under either digest.
    let claimed = sha256(b"something else");
    let r = a
        .req(Method::POST, &format!("/v2/lab/data/blobs/uploads/?digest={claimed}"))
        .body(b"actual content".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    for dd in [claimed, sha256(b"actual content")] {
        let r = a.req(Method::HEAD, &format!("/v2/lab/data/blobs/{dd}")).send().await.unwrap();
        assert_eq!(r.status(), 404);
    }
    assert!(
        s.state
            .registry
            .blobs()
            .size(&gantry_domain::Digest::parse(&sha256(b"actual content")).unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // Manifests: missing blobs, bad JSON, wrong digest, too large.
    let cfg = a.blob("lab/data", b"{}").await;
    let m = manifest(&cfg, 2, &[(&sha256(b"never pushed"), 12)], None);
    let r = a.put_manifest("lab/data", "v1", &m, OCI_MANIFEST).await;
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
    let r = a.put_manifest("lab/data", "v1", b"{not json", OCI_MANIFEST).await;
    assert_eq!(error_code(r).await, "MANIFEST_INVALID");
    let good = manifest(&cfg, 2, &[(&d, data.len())], None);
    let r = a.put_manifest("lab/data", &sha256(b"x"), &good, OCI_MANIFEST).await;
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    let r = a.put_manifest("lab/data", "v1", &vec![b' '; 4 * 1024 * 1024 + 1], OCI_MANIFEST).await;
    assert_eq!(r.status(), 413);
    let r = a.req(Method::GET, "/v2/lab/data/tags/list").send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["tags"], json!([]), "failed pushes left no tags");
    // By digest, then a tag.
    let r = a.put_manifest("lab/data", &sha256(&good), &good, OCI_MANIFEST).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["docker-content-digest"], sha256(&good).as_str());
    let r = a.put_manifest("lab/data", "v1", &good, OCI_MANIFEST).await;
    assert_eq!(r.status(), 201);

    // Docker schema 2 manifests are accepted and served with their media type.
    let docker = serde_json::to_vec(&json!({"schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cfg, "size": 2},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": d, "size": data.len()}]}))
    .unwrap();
    let r = a.put_manifest("lab/data", "docker", &docker, "application/vnd.docker.distribution.manifest.v2+json").await;
    assert_eq!(r.status(), 201);
    let r = a.req(Method::GET, "/v2/lab/data/manifests/docker").send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/vnd.docker.distribution.manifest.v2+json");
    assert_eq!(r.bytes().await.unwrap().to_vec(), docker);
    // A schema 1 manifest is refused with a clear error.
    let r = a
        .put_manifest(
            "lab/data",
            "old",
            br#"{"schemaVersion":1,"name":"x"}"#,
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
        )
        .await;
    assert_eq!(error_code(r).await, "MANIFEST_INVALID");

    // Cross-repository mount from a repository the caller can read.
    let r = a.req(Method::POST, &format!("/v2/lab/other/blobs/uploads/?mount={d}&from=lab/data")).send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], format!("/v2/lab/other/blobs/{d}").as_str());
    // Bob cannot mount alice's private blob into his own collection: he gets a session.
    let btok = s.user("bob").await;
    let bob = Oci::as_user(&s.url, "bob", &btok);
    let r =
        bob.req(Method::POST, &format!("/v2/bob/stolen/blobs/uploads/?mount={d}&from=lab/data")).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let r = bob.req(Method::HEAD, &format!("/v2/bob/stolen/blobs/{d}")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // Nor push a manifest naming it.
    let bcfg = bob.blob("bob/stolen", b"{}").await;
    let m = manifest(&bcfg, 2, &[(&d, data.len())], None);
    let r = bob.put_manifest("bob/stolen", "x", &m, OCI_MANIFEST).await;
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
    // Nor touch alice's upload sessions.
    let r = a.req(Method::POST, "/v2/lab/data/blobs/uploads/").send().await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = bob.req(Method::PATCH, &loc).body(b"x".to_vec()).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // Deleting a session.
    let r = a.req(Method::DELETE, &loc).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = a.req(Method::GET, &loc).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = a.req(Method::GET, "/v2/lab/data/blobs/uploads/0000notreal").send().await.unwrap();
    assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");

    // Anonymous pushes get a challenge; bad names a 400.
    let r = Oci::new(&s.url, None).push_blob("lab/data", b"x").await;
    assert_eq!(r.status(), 401);
    for bad in ["Lab/data", "lab/../etc", "lab/da..ta"] {
        let r = a.push_blob(bad, b"x").await;
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(error_code(r).await, "NAME_INVALID");
    }
    let r = a.put_manifest("lab/data", "bad:tag!", &good, OCI_MANIFEST).await;
    assert_eq!(r.status(), 400);
}

async fn content_discovery(b: Backend) {
    let s = TestServer::start(b).await;
    let tok = s.user("alice").await;
    let a = Oci::as_user(&s.url, "alice", &tok);
    let (digest, mbytes) = a.image("lab/app", "v1", b"one").await;
    for t in ["v2", "a", "b", "latest"] {
        let r = a.put_manifest("lab/app", t, &mbytes, OCI_MANIFEST).await;
        assert_eq!(r.status(), 201);
    }
    let r = a.req(Method::GET, "/v2/lab/app/tags/list").send().await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, json!({"name": "lab/app", "tags": ["a", "b", "latest", "v1", "v2"]}));
    let r = a.req(Method::GET, "/v2/lab/app/tags/list?n=2").send().await.unwrap();
    assert_eq!(r.headers()["link"], "</v2/lab/app/tags/list?n=2&last=b>; rel=\"next\"");
    assert_eq!(r.json::<Value>().await.unwrap()["tags"], json!(["a", "b"]));
    let r = a.req(Method::GET, "/v2/lab/app/tags/list?n=2&last=b").send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["tags"], json!(["latest", "v1"]));
    let r = a.req(Method::GET, "/v2/lab/app/tags/list?n=0").send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["tags"], json!([]));

    // Referrers: two artifacts refer to the image, one of another type.
    let empty = a.blob("lab/app", b"{}").await;
    let mut sig = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [], "subject": {"mediaType": OCI_MANIFEST, "digest": digest, "size": mbytes.len()},
        "annotations": {"org.example": "yes"}});
    let sig_bytes = serde_json::to_vec(&sig).unwrap();
    let r = a.put_manifest("lab/app", &sha256(&sig_bytes), &sig_bytes, OCI_MANIFEST).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["oci-subject"], digest.as_str());
    sig["artifactType"] = json!("application/vnd.example.sbom");
    let sbom_bytes = serde_json::to_vec(&sig).unwrap();
    assert_eq!(a.put_manifest("lab/app", &sha256(&sbom_bytes), &sbom_bytes, OCI_MANIFEST).await.status(), 201);
    let r = a.req(Method::GET, &format!("/v2/lab/app/referrers/{digest}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], OCI_INDEX);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 2);
    let r = a
        .req(Method::GET, &format!("/v2/lab/app/referrers/{digest}?artifactType=application/vnd.example.sig"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["oci-filters-applied"], "artifactType");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(v["manifests"][0]["digest"], sha256(&sig_bytes).as_str());
    assert_eq!(v["manifests"][0]["annotations"]["org.example"], "yes");
    let r = a.req(Method::GET, &format!("/v2/lab/app/referrers/{}", sha256(b"none"))).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["manifests"], json!([]));

    // An index over the image.
    let idx = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest, "size": mbytes.len()}]}))
    .unwrap();
    assert_eq!(a.put_manifest("lab/app", "multi", &idx, OCI_INDEX).await.status(), 201);
    let missing = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": sha256(b"nope"), "size": 3}]}))
    .unwrap();
    assert_eq!(
        error_code(a.put_manifest("lab/app", "broken", &missing, OCI_INDEX).await).await,
        "MANIFEST_BLOB_UNKNOWN"
    );

    // Catalog: filtered to what the caller can read, paginated.
    let btok = s.user("bob").await;
    let bob = Oci::as_user(&s.url, "bob", &btok);
    bob.image("bobs/one", "v1", b"b1").await;
    bob.image("bobs/two", "v1", b"b2").await;
    let r = a.req(Method::GET, "/v2/_catalog").send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["repositories"], json!(["lab/app"]));
    let r = bob.req(Method::GET, "/v2/_catalog?n=1").send().await.unwrap();
    assert_eq!(r.headers()["link"], "</v2/_catalog?n=1&last=bobs/one>; rel=\"next\"");
    assert_eq!(r.json::<Value>().await.unwrap()["repositories"], json!(["bobs/one"]));
    let admin = Oci::as_user(&s.url, "root", &s.admin("root").await);
    let r = admin.req(Method::GET, "/v2/_catalog").send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["repositories"], json!(["bobs/one", "bobs/two", "lab/app"]));
    let r = Oci::new(&s.url, None).req(Method::GET, "/v2/_catalog").send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["repositories"], json!([]));
}

async fn content_management(b: Backend) {
    let s = TestServer::start(b).await;
    let tok = s.user("alice").await;
    let a = Oci::as_user(&s.url, "alice", &tok);
    let (digest, mbytes) = a.image("lab/app", "v1", b"layer").await;
    assert_eq!(a.put_manifest("lab/app", "v2", &mbytes, OCI_MANIFEST).await.status(), 201);
    // A contributor may push but not delete.
    let ctok = s.user("carol").await;
    gantry::admin::add_member(&s.state, "lab", "carol", gantry_domain::Role::Contributor).await.unwrap();
    let carol = Oci::as_user(&s.url, "carol", &ctok);
    assert_eq!(carol.put_manifest("lab/app", "v3", &mbytes, OCI_MANIFEST).await.status(), 201);
    let r = carol.req(Method::DELETE, "/v2/lab/app/manifests/v3").send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(error_code(r).await, "DENIED");

    // Delete a tag: the manifest stays reachable by digest and other tags.
    let r = a.req(Method::DELETE, "/v2/lab/app/manifests/v2").send().await.unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(a.req(Method::GET, "/v2/lab/app/manifests/v2").send().await.unwrap().status(), 404);
    assert_eq!(a.req(Method::GET, "/v2/lab/app/manifests/v1").send().await.unwrap().status(), 200);
    // A blob still referenced cannot be deleted.
    let ld = sha256(b"layer");
    let r = a.req(Method::DELETE, &format!("/v2/lab/app/blobs/{ld}")).send().await.unwrap();
    assert_eq!(r.status(), 409);
    // Delete the manifest: every tag goes with it.
    let r = a.req(Method::DELETE, &format!("/v2/lab/app/manifests/{digest}")).send().await.unwrap();
    assert_eq!(r.status(), 202);
    for t in ["v1", "v3", digest.as_str()] {
        let r = a.req(Method::GET, &format!("/v2/lab/app/manifests/{t}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{t}");
    }
    let r = a.req(Method::DELETE, &format!("/v2/lab/app/manifests/{digest}")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // Now the blob can be removed from the repository.
    let r = a.req(Method::DELETE, &format!("/v2/lab/app/blobs/{ld}")).send().await.unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(a.req(Method::HEAD, &format!("/v2/lab/app/blobs/{ld}")).send().await.unwrap().status(), 404);
}

async fn token_endpoint(b: Backend) {
    let s = TestServer::start(b).await;
    let tok = s.user("alice").await;
    let a = Oci::as_user(&s.url, "alice", &tok);
    a.image("lab/app", "v1", b"x").await;
    let c = crate::harness::http();
    // Login with Basic user:token, as skopeo and oras do.
    let r = c
        .get(format!("{}/v2/token?service=gantry&scope=repository:lab/app:pull", s.url))
        .header("authorization", crate::harness::basic("alice", &tok))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let bearer = v["token"].as_str().unwrap().to_string();
    assert_eq!(v["access_token"], bearer.as_str());
    assert!(v["expires_in"].as_u64().unwrap() > 0);
    let br = Oci::new(&s.url, Some(format!("Bearer {bearer}")));
    assert_eq!(br.req(Method::GET, "/v2/lab/app/manifests/v1").send().await.unwrap().status(), 200);
    assert_eq!(br.req(Method::GET, "/v2/").send().await.unwrap().status(), 200);
    // The OAuth2 form variant.
    let r = c
        .post(format!("{}/v2/token", s.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=password&service=gantry&username=alice&password={tok}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Wrong credentials: 401, never an anonymous token.
    for (u, t) in [("alice", "gnt_wrong"), ("bob", tok.as_str())] {
        let r = c
            .get(format!("{}/v2/token", s.url))
            .header("authorization", crate::harness::basic(u, t))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{u}");
    }
    // Anonymous token: valid, but reads only public content.
    let r = c.get(format!("{}/v2/token", s.url)).send().await.unwrap();
    let anon_t = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let anon = Oci::new(&s.url, Some(format!("Bearer {anon_t}")));
    assert_eq!(anon.req(Method::GET, "/v2/lab/app/manifests/v1").send().await.unwrap().status(), 401);
    // A forged or garbage bearer token is refused.
    let r = Oci::new(&s.url, Some(format!("Bearer {}x", bearer))).req(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(r.status(), 401);
    // An expired API token: 401 with the login challenge.
    let exp = s.user("alice").await;
    sqlx::query("UPDATE api_tokens SET expires_at = 1 WHERE token_hash = $1")
        .bind(gantry_app::secrets::hash_token(&exp))
        .execute(s.state.store().pool())
        .await
        .unwrap();
    let r = Oci::as_user(&s.url, "alice", &exp).req(Method::GET, "/v2/lab/app/manifests/v1").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("/v2/token"));
    assert_eq!(error_code(r).await, "UNAUTHORIZED");
    // Revoking the API token ends the registry token too.
    let user = s.state.store().user_by_name("alice").await.unwrap().unwrap();
    for t in s.state.store().list_tokens(user.id).await.unwrap() {
        assert!(s.state.store().revoke_token(user.id, t.id).await.unwrap());
    }
    assert_eq!(br.req(Method::GET, "/v2/lab/app/manifests/v1").send().await.unwrap().status(), 401);
    assert_eq!(a.req(Method::GET, "/v2/lab/app/manifests/v1").send().await.unwrap().status(), 401);
}

async fn read_tokens_cannot_write(b: Backend) {
    let s = TestServer::start(b).await;
    let w = s.user("alice").await;
    Oci::as_user(&s.url, "alice", &w).image("lab/app", "v1", b"x").await;
    let r = s.user_with("alice", false, gantry_domain::TokenScope::Read).await;
    let ro = Oci::as_user(&s.url, "alice", &r);
    assert_eq!(ro.req(Method::GET, "/v2/lab/app/manifests/v1").send().await.unwrap().status(), 200);
    let resp = ro.push_blob("lab/app", b"new").await;
    assert_eq!(resp.status(), 403);
    let resp = ro.push_blob("newcoll/app", b"new").await;
    assert_eq!(resp.status(), 403, "a read token cannot create collections");
    assert_eq!(ro.req(Method::DELETE, "/v2/lab/app/manifests/v1").send().await.unwrap().status(), 403);
}

async fn collection_creation_can_be_reserved_to_admins(b: Backend) {
    let s = TestServer::start_with(b, |c| c.allow_user_collections = false).await;
    let tok = s.user("alice").await;
    let a = Oci::as_user(&s.url, "alice", &tok);
    let r = a.push_blob("newcoll/app", b"x").await;
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("ask an admin"), "{v}");
    let r = crate::harness::http()
        .post(format!("{}/api/v1/collections", s.url))
        .bearer_auth(&tok)
        .json(&json!({"name": "newcoll"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // An admin creates it and makes alice a contributor: now she pushes.
    let root = Oci::as_user(&s.url, "root", &s.admin("root").await);
    root.image("newcoll/base", "v1", b"base").await;
    gantry::admin::add_member(&s.state, "newcoll", "alice", gantry_domain::Role::Contributor).await.unwrap();
    a.image("newcoll/app", "v1", b"app").await;
}

crate::both_backends!(
    pull_workflow,
    push_workflow,
    content_discovery,
    content_management,
    token_endpoint,
    read_tokens_cannot_write,
    collection_creation_can_be_reserved_to_admins
);
