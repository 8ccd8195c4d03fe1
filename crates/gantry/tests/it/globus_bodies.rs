//! The built-in Globus service reads request bodies as typed documents: what is missing,
//! of the wrong type, or not JSON (or not a form) is a 400 in the error shape of the API
//! it was sent to, saying what is wrong, and changes nothing.

use crate::globus::{GATEWAY, GATEWAY_SECRET, GlobusServer, user_token};
use serde_json::{Value, json};

const TRANSFER: &str = "urn:globus:auth:scope:transfer.api.globus.org:all";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_400s_in_the_shape_of_their_api() {
    let g = GlobusServer::start().await;
    let ep = g.config.endpoints[0].id.clone();
    let tok = user_token(&g, "alice@uni.edu", "alice-pass", TRANSFER).await;
    let c = crate::harness::http();
    let api = |p: &str| format!("{}/v0.10/{p}", g.url);
    let item =
        json!({"DATA_TYPE": "transfer_item", "source_path": "/~/", "destination_path": "/~/x/", "recursive": true});
    let cases = [
        ("transfer", json!({"destination_endpoint": ep, "DATA": [item]}), "source_endpoint"),
        (
            "transfer",
            json!({"source_endpoint": ep, "destination_endpoint": ep, "DATA": [{"source_path": "/~/"}]}),
            "destination_path",
        ),
        ("transfer", json!({"source_endpoint": ep, "destination_endpoint": 7, "DATA": [item]}), "destination_endpoint"),
        (
            "transfer",
            json!({"source_endpoint": ep, "destination_endpoint": ep, "DATA": [item], "verify_checksum": "yes"}),
            "boolean",
        ),
        (
            "transfer",
            json!({"source_endpoint": ep, "destination_endpoint": ep, "DATA": [item], "deadline": "next week"}),
            "deadline",
        ),
        ("delete", json!({"endpoint": ep, "DATA": [{"DATA_TYPE": "delete_item"}]}), "path"),
        (&format!("operation/endpoint/{ep}/mkdir"), json!({"DATA_TYPE": "mkdir"}), "path"),
        (&format!("operation/endpoint/{ep}/rename"), json!({"old_path": "/~/a"}), "new_path"),
        ("bookmark", json!({"name": "b", "path": "/~/"}), "endpoint_id"),
    ];
    for (path, body, needle) in cases {
        let r = c.post(api(path)).bearer_auth(&tok).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path} {body}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "ClientError.BadRequest", "{path}: {v}");
        assert!(v["message"].as_str().unwrap().contains(needle), "{path}: {v} should name {needle}");
        assert!(v["resource"].as_str().unwrap().ends_with(path), "{v}");
    }
    // Not JSON at all, and JSON without its content type.
    for (ctype, body) in [("application/json", "{not json"), ("text/plain", "{}")] {
        let r =
            c.post(api("transfer")).bearer_auth(&tok).header("content-type", ctype).body(body).send().await.unwrap();
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "ClientError.BadRequest", "{v}");
    }
    // Listings refuse paging that is not a number.
    let r = c.get(api("task_list?limit=lots")).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(v["message"].as_str().unwrap().contains("limit"), "{v}");
    // Nothing was created by any of it.
    let list: Value = c.get(api("task_list")).bearer_auth(&tok).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["total"], 0, "{list}");
    let marks: Value = c.get(api("bookmark_list")).bearer_auth(&tok).send().await.unwrap().json().await.unwrap();
    assert!(marks["DATA"].as_array().unwrap().iter().all(|b| b["name"] != "b"), "{marks}");

    // The OAuth endpoints answer in OAuth's shape.
    let gw = g.client_id(GATEWAY);
    let token_url = format!("{}/v2/oauth2/token", g.url);
    let r = c.post(&token_url).basic_auth(&gw, Some(GATEWAY_SECRET)).form(&[("code", "x")]).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["error"].as_str(), v["error_description"].as_str()),
        (Some("invalid_request"), Some("grant_type is required"))
    );
    let r = c
        .post(&token_url)
        .basic_auth(&gw, Some(GATEWAY_SECRET))
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error_description"], "refresh_token is required", "{v}");
    let r = c
        .post(&token_url)
        .basic_auth(&gw, Some(GATEWAY_SECRET))
        .json(&json!({"grant_type": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request", "{v}");

    // The Auth API answers in its own shape.
    let r =
        c.post(format!("{}/v2/api/clients", g.url)).json(&json!({"name": "no client object"})).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], "BAD_REQUEST", "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("client"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_deadlines_and_updates_are_read_as_utc_times() {
    let g = GlobusServer::start().await;
    let ep = g.config.endpoints[0].clone();
    std::fs::create_dir_all(ep.root.join("d")).unwrap();
    std::fs::write(ep.root.join("d/f"), b"x").unwrap();
    let tok = user_token(&g, "alice@uni.edu", "alice-pass", TRANSFER).await;
    let c = crate::harness::http();
    let api = |p: &str| format!("{}/v0.10/{p}", g.url);
    let body = json!({"source_endpoint": ep.id, "destination_endpoint": ep.id, "deadline": "2030-01-31 12:00:00",
        "label": null, "verify_checksum": null,
        "DATA": [{"source_path": "/~/d/", "destination_path": "/~/e/", "recursive": true}]});
    let r = c.post(api("transfer")).bearer_auth(&tok).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 202, "null counts as not sent");
    let id = r.json::<Value>().await.unwrap()["task_id"].as_str().unwrap().to_string();
    let t: Value = c.get(api(&format!("task/{id}"))).bearer_auth(&tok).send().await.unwrap().json().await.unwrap();
    assert_eq!(t["deadline"], "2030-01-31T12:00:00+00:00", "{t}");
    let r = c
        .put(api(&format!("task/{id}")))
        .bearer_auth(&tok)
        .json(&json!({"label": "renamed", "deadline": "2030-02-30"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "February has no 30th");
    let t: Value = c.get(api(&format!("task/{id}"))).bearer_auth(&tok).send().await.unwrap().json().await.unwrap();
    assert_eq!((t["label"].clone(), t["deadline"].clone()), (Value::Null, json!("2030-01-31T12:00:00+00:00")));
    let r = c
        .put(api(&format!("task/{id}")))
        .bearer_auth(&tok)
        .json(&json!({"label": "renamed", "deadline": "2030-02-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t: Value = c.get(api(&format!("task/{id}"))).bearer_auth(&tok).send().await.unwrap().json().await.unwrap();
    assert_eq!((t["label"].as_str(), t["deadline"].as_str()), (Some("renamed"), Some("2030-02-01T00:00:00+00:00")));
}
