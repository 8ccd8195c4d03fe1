//! `gantry demo`, the real binary: both servers come up, the seeded collections and
//! image are there, and signing in through the built-in Globus service works.

use crate::harness::{Browser, http};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

struct Demo {
    child: tokio::process::Child,
    gantry: String,
    globus: String,
}

async fn start(data: &std::path::Path) -> Demo {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(["demo", "--listen", "127.0.0.1:0", "--globus-listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut gantry, mut globus) = (None, None);
    let mut seen = String::new();
    while let Some(l) = lines.next_line().await.unwrap() {
        seen.push_str(&l);
        seen.push('\n');
        let url = l.split_whitespace().last().unwrap_or("").to_string();
        if l.trim_start().starts_with("Gantry ") && url.starts_with("http") {
            gantry = Some(url);
        } else if l.trim_start().starts_with("Globus (built-in)") {
            globus = Some(url);
        }
        if l.contains("Press Ctrl-C") {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let (Some(gantry), Some(globus)) = (gantry, globus) else { panic!("no URLs in the banner:\n{seen}") };
    assert!(seen.contains("alice@uni.edu / alice-pass") && seen.contains("admin / gantry-demo-admin"), "{seen}");
    assert!(seen.contains("alice@uni.edu is also a Gantry administrator"), "the story says who is admin: {seen}");
    Demo { child, gantry, globus }
}

async fn sign_in(d: &Demo, user: &str, password: &str) -> Browser {
    let mut b = Browser::new();
    let (st, _, loc) = b.get(&format!("{}/login/globus", d.gantry)).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let authorize = loc.unwrap();
    assert!(authorize.starts_with(&d.globus), "{authorize}");
    let callback = crate::signin::at_globus(&mut b, &d.globus, &authorize, user, password).await;
    let (st, _, _) = b.get(&callback).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    b
}

async fn get(b: &Browser, url: &str) -> StatusCode {
    b.c.get(url).header("cookie", b.cookie_header()).send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_and_is_seeded() {
    let data = tempfile::tempdir().unwrap();
    let d = start(data.path()).await;
    // Anonymous: the public collection and its image, byte for byte.
    let v: Value = crate::harness::json_of(&format!("{}/api/v1/collections", d.gantry), None).await;
    let names: Vec<&str> = v["collections"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["demo"], "{v}");
    let r = http().get(format!("{}/download/demo/hello:latest", d.gantry)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let want = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo.sif")).unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), want);
    let img: Value = crate::harness::json_of(&format!("{}/api/v1/images/demo/hello:latest", d.gantry), None).await;
    assert!(img.to_string().contains("Hello from Gantry"), "the SIF's definition file is read: {img}");
    // alice (in the group, and a designated admin) sees the private collection; bob does not.
    let alice = sign_in(&d, "alice@uni.edu", "alice-pass").await;
    assert_eq!(get(&alice, &format!("{}/api/v1/collections/beamline", d.gantry)).await, StatusCode::OK);
    let me: Value = alice.json(&format!("{}/api/v1/me", d.gantry)).await;
    assert_eq!((me["username"].as_str(), me["is_admin"].as_bool()), (Some("alice@uni.edu"), Some(true)), "{me}");
    // The whole path: connect Globus, send the image to the demo cluster, see it arrive.
    let mut alice = alice;
    let (_, _, loc) = alice.get(&format!("{}/globus/connect", d.gantry)).await;
    let callback = crate::signin::at_globus(&mut alice, &d.globus, &loc.unwrap(), "alice@uni.edu", "alice-pass").await;
    let (st, _, _) = alice.get(&callback).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (_, page, _) = alice.get(&format!("{}/", d.gantry)).await;
    let csrf = crate::harness::hidden(&page, "csrf");
    let cluster = gantry_globus_local::GlobusConfig::default_for(&data.path().join("globus")).endpoints[0].clone();
    let cluster_id = gantry_globus_local::config::uuid_for("endpoint", &cluster.display_name);
    // She pushes an image of her own (with an API token made from her session)...
    let r = alice
        .c
        .post(format!("{}/api/v1/tokens", d.gantry))
        .header("cookie", alice.cookie_header())
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({"name": "push", "scope": "write"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let mine: Vec<u8> = want.iter().rev().copied().collect();
    crate::api::push_sif(&crate::ocikit::Oci::as_user(&d.gantry, "alice@uni.edu", &token), "alice/tool", "1.0", &mine)
        .await;
    // ...and sends it to the demo cluster.
    let r = alice
        .c
        .post(format!("{}/api/v1/transfers", d.gantry))
        .header("cookie", alice.cookie_header())
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({"ref": "alice/tool:1.0", "endpoint_id": cluster_id, "path": "/~/incoming/"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let mut status = Value::Null;
    for _ in 0..100 {
        status = alice.json(&format!("{}/api/v1/transfers/{id}", d.gantry)).await;
        if status["cleaned_up"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(status["status"], "SUCCEEDED", "{status}");
    assert_eq!(std::fs::read(cluster.root.join("incoming/tool_1.0.sif")).unwrap(), mine);
    // The page says what alice may do there: she manages it as an administrator.
    let (_, page, _) = alice.get(&format!("{}/c/beamline", d.gantry)).await;
    assert!(page.contains("as a server administrator, you manage this collection"), "{page}");
    // Searching all endpoints needs words (Globus refuses an empty search); the answer
    // says so. Gantry's own storage collection is never offered as a destination.
    let r = alice
        .c
        .get(format!("{}/api/v1/globus/endpoints?scope=all", d.gantry))
        .header("cookie", alice.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("type part of an endpoint's name"));
    for scope in ["recently-used", "my-endpoints", "shared-with-me"] {
        let v = alice.json(&format!("{}/api/v1/globus/endpoints?scope={scope}", d.gantry)).await;
        let names = v.to_string();
        assert!(!names.contains("Gantry registry (demo)"), "{scope}: {names}");
        if scope == "recently-used" {
            assert!(names.contains("University Cluster"), "the transfer's destination is recent: {names}");
        }
    }
    let bob = sign_in(&d, "bob@uni.edu", "bob-pass").await;
    assert_eq!(get(&bob, &format!("{}/api/v1/collections/beamline", d.gantry)).await, StatusCode::NOT_FOUND);
    // A transfer's page is its owner's (and administrators'): bob is told it is not there.
    let (st, page, _) = alice.get(&format!("{}/tasks/{id}", d.gantry)).await;
    assert!(st == StatusCode::OK && page.contains("SUCCEEDED") && page.contains("Transfer again"), "{page}");
    let mut bob = bob;
    assert_eq!(bob.get(&format!("{}/tasks/{id}", d.gantry)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(bob.get(&format!("{}/tasks/no-such-transfer", d.gantry)).await.0, StatusCode::NOT_FOUND);
    // The built-in Globus service answers as Globus does.
    let disco: Value = crate::harness::json_of(&format!("{}/.well-known/openid-configuration", d.globus), None).await;
    assert_eq!(disco["issuer"], d.globus.as_str());
    drop(d);

    // Started again on the same data: no duplicate seeding, the image is still there.
    let d = start(data.path()).await;
    let v: Value = crate::harness::json_of(&format!("{}/api/v1/collections/demo/images", d.gantry), None).await;
    assert_eq!(v["images"].as_array().map(Vec::len), Some(1), "{v}");
    let mut d = d;
    d.child.start_kill().unwrap();
}
