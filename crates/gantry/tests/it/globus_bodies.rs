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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_answer_globus_errors() {
    let g = GlobusServer::start().await;
    let c = crate::harness::http();
    let cases = [
        ("GET", "/v0.10/no_such_thing", 404, "ClientError.NotFound"),
        ("DELETE", "/v0.10/endpoint_search", 405, "ClientError.BadMethod"),
        ("GET", "/v2/api/no_such_thing", 404, "NOT_FOUND"),
        ("PATCH", "/v2/api/identities", 405, "METHOD_NOT_ALLOWED"),
        ("GET", "/v2/oauth2/nothing", 404, "not_found"),
    ];
    for (method, path, status, code) in cases {
        let r = c.request(method.parse().unwrap(), format!("{}{path}", g.url)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{method} {path}");
        let v: Value = r.json().await.unwrap_or_else(|e| panic!("{method} {path} is not JSON: {e}"));
        if path.starts_with("/v0.10/") {
            assert_eq!((v["code"].as_str(), v["resource"].as_str()), (Some(code), Some(path)), "{v}");
            let id = v["request_id"].as_str().unwrap();
            assert!(id.len() == 9 && id.chars().all(|c| c.is_ascii_alphanumeric()), "Transfer's request id: {id}");
        } else if path.starts_with("/v2/oauth2/") {
            assert_eq!(v["error"], code, "{v}");
        } else {
            assert_eq!(
                (v["errors"][0]["code"].as_str(), v["errors"][0]["status"].as_str()),
                (Some(code), Some(status.to_string().as_str())),
                "{v}"
            );
            assert!(v["errors"][0]["id"].as_str().unwrap().len() == 36, "Auth's error ids are UUIDs: {v}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_secret_in_basic_or_in_the_form_but_not_both() {
    let g = GlobusServer::start().await;
    let c = crate::harness::http();
    let gw = g.client_id(GATEWAY);
    let token_url = format!("{}/v2/oauth2/token", g.url);
    let cc = [("grant_type", "client_credentials"), ("scope", TRANSFER)];
    let post = |form: Vec<(&'static str, String)>, basic: Option<&'static str>| {
        let mut r = c.post(&token_url).form(&form);
        if let Some(secret) = basic {
            r = r.basic_auth(&gw, Some(secret));
        }
        r.send()
    };
    let form = |extra: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        cc.iter().chain(extra).map(|(k, v)| (*k, v.to_string())).collect()
    };
    // client_secret_post.
    let r = post(form(&[("client_id", &gw), ("client_secret", GATEWAY_SECRET)]), None).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["resource_server"], "transfer.api.globus.org", "{v}");
    // client_secret_basic still works.
    let r = post(form(&[]), Some(GATEWAY_SECRET)).await.unwrap();
    assert_eq!(r.status(), 200);
    // A wrong secret, a secret without its client, and both ways at once are refused.
    let r = post(form(&[("client_id", &gw), ("client_secret", "wrong")]), None).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let r = post(form(&[("client_secret", GATEWAY_SECRET)]), None).await.unwrap();
    assert_eq!(r.status(), 400);
    let r = post(form(&[("client_id", &gw), ("client_secret", GATEWAY_SECRET)]), Some(GATEWAY_SECRET)).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    // Introspection and revocation take the form secret too.
    let tok = post(form(&[]), Some(GATEWAY_SECRET)).await.unwrap().json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let auth_form = |extra: (&'static str, String)| {
        vec![("client_id", gw.clone()), ("client_secret", GATEWAY_SECRET.to_string()), extra]
    };
    let introspect = |tok: String| {
        crate::harness::answer(c.post(format!("{token_url}/introspect")).form(&auth_form(("token", tok))))
    };
    let intro = introspect(tok.clone()).await;
    assert_eq!(intro["active"], true, "{intro}");
    let r = c.post(format!("{token_url}/revoke")).form(&auth_form(("token", tok.clone()))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let intro = introspect(tok).await;
    assert_eq!(intro["active"], false, "revoked: {intro}");
    let disc: Value =
        c.get(format!("{}/.well-known/openid-configuration", g.url)).send().await.unwrap().json().await.unwrap();
    assert!(disc["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("client_secret_post")));
}
