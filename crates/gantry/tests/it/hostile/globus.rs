//! The built-in Globus service (`gantry globus-local`): self-made clients, links in
//! shared directories.

use super::*;
use crate::globus::{GATEWAY, GATEWAY_CALLBACK, GATEWAY_SECRET, code_flow, test_config};

/// `gantry globus-local` with the test clients, in a new temporary directory.
async fn globus_local() -> (GlobusProcess, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("g");
    let mut config = test_config(&data);
    config.complete().unwrap();
    (GlobusProcess::start(&data, Some(&config)).await, dir)
}

/// A user's tokens for `scope`, through the sign-in form and the gateway client.
async fn tokens_of(g: &GlobusProcess, user: &str, password: &str, scope: &str) -> serde_json::Value {
    code_flow(&g.url, &g.client_id(GATEWAY), GATEWAY_SECRET, GATEWAY_CALLBACK, user, password, scope).await
}

async fn access_token(g: &GlobusProcess, user: &str, password: &str, scope: &str) -> String {
    tokens_of(g, user, password, scope).await["access_token"].as_str().unwrap().to_string()
}

/// Point 11, the built-in Globus Auth: a client anyone can make (an instance of the CLI's
/// template, as Globus allows) learns nothing about other clients' tokens and cannot
/// revoke them; revoking needs client authentication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_made_client_cannot_introspect_or_revoke_others_tokens() {
    let (g, _dir) = globus_local().await;
    let c = http();
    let tokens =
        tokens_of(&g, "alice@uni.edu", "alice-pass", "openid email urn:globus:auth:scope:transfer.api.globus.org:all")
            .await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let template =
        serde_json::json!({"client": {"template_id": "95fdeba8-fac2-42bd-a357-e068d82ff78e", "name": "rogue"}});
    let made = post_json(&format!("{}/v2/api/clients", g.url), template).await;
    let rogue = made["client"]["id"].as_str().unwrap().to_string();
    let secret = made["included"]["client_credential"]["secret"].as_str().unwrap().to_string();
    let introspect = |id: String, secret: String| {
        let (c, url, access) = (c.clone(), format!("{}/v2/oauth2/token/introspect", g.url), access.clone());
        async move {
            let r = c
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&[("token", access.as_str()), ("include", "identity_set_detail")]);
            r.send().await.unwrap().json::<serde_json::Value>().await.unwrap()
        }
    };
    let seen = introspect(rogue.clone(), secret.clone()).await;
    assert_eq!(seen, serde_json::json!({"active": false}), "nothing about a token issued to another client");
    let r = c
        .post(format!("{}/v2/oauth2/token/revoke", g.url))
        .basic_auth(&rogue, Some(&secret))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r =
        c.post(format!("{}/v2/oauth2/token/revoke", g.url)).form(&[("token", access.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 401, "revoking needs a client");
    let own = introspect(g.client_id(GATEWAY), GATEWAY_SECRET.to_string()).await;
    assert_eq!(own["active"], true, "the token survived: {own}");
    assert_eq!(own["identity_set_detail"][0]["username"], "alice@uni.edu", "its own client still sees it");
}

/// Point 12, links in a shared directory: rules are checked where a path's links lead, so
/// `pub/link -> ../private` shows and sends nothing of `private/`, and deleting the link
/// removes the link, never its target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_do_not_widen_access_rules() {
    use serde_json::{Value, json};
    const TRANSFER: &str = "urn:globus:auth:scope:transfer.api.globus.org:all";
    let (g, _dir) = globus_local().await;

    let guest = g.config.endpoints.iter().find(|e| e.host_endpoint.is_some()).unwrap().clone();
    std::fs::create_dir_all(guest.root.join("pub")).unwrap();
    std::fs::create_dir_all(guest.root.join("private")).unwrap();
    std::fs::write(guest.root.join("private/secret.txt"), "secret").unwrap();
    std::fs::write(guest.root.join("pub/open.txt"), "open").unwrap();
    std::os::unix::fs::symlink("../private", guest.root.join("pub/link")).unwrap();
    let c = http();
    let api = |p: &str| format!("{}/v0.10/{p}", g.url);
    let alice = access_token(&g, "alice@uni.edu", "alice-pass", TRANSFER).await;
    let bob_id = g.config.identity_by_username("bob@uni.edu").unwrap().id.clone();
    let rule = json!({"DATA_TYPE": "access", "principal_type": "identity", "principal": bob_id, "path": "/pub/", "permissions": "rw"});
    let r = c.post(api(&format!("endpoint/{}/access", guest.id))).bearer_auth(&alice).json(&rule).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let bob = access_token(&g, "bob@uni.edu", "bob-pass", TRANSFER).await;
    let ls = |path: &str| {
        let url = api(&format!("operation/endpoint/{}/ls?path={}", guest.id, gantry_domain::url::escape(path)));
        let (c, bob) = (c.clone(), bob.clone());
        async move { c.get(url).bearer_auth(bob).send().await.unwrap() }
    };
    assert_eq!(ls("/~/pub/").await.status(), 200);
    assert_eq!(ls("/~/pub/link/").await.status(), 403, "the link leads where bob has no rule");
    let send = json!({"DATA_TYPE": "transfer", "source_endpoint": guest.id, "destination_endpoint": guest.id,
        "DATA": [{"DATA_TYPE": "transfer_item", "source_path": "/~/pub/link/secret.txt", "destination_path": "/~/pub/got.txt"}]});
    let r = c.post(api("transfer")).bearer_auth(&bob).json(&send).send().await.unwrap();
    assert_eq!(r.status(), 403, "{}", r.text().await.unwrap());
    let del = json!({"DATA_TYPE": "delete", "endpoint": guest.id, "recursive": true, "DATA": [{"DATA_TYPE": "delete_item", "path": "/~/pub/link"}]});
    let r = c.post(api("delete")).bearer_auth(&bob).json(&del).send().await.unwrap();
    assert_eq!(r.status(), 202, "bob may delete what is in pub/, the link too");
    let task = r.json::<Value>().await.unwrap()["task_id"].as_str().unwrap().to_string();
    let mut status = Value::Null;
    for _ in 0..100 {
        let t: Value =
            c.get(api(&format!("task/{task}"))).bearer_auth(&bob).send().await.unwrap().json().await.unwrap();
        status = t["status"].clone();
        if status != "ACTIVE" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "SUCCEEDED");
    assert!(std::fs::symlink_metadata(guest.root.join("pub/link")).is_err(), "the link is gone");
    assert_eq!(std::fs::read_to_string(guest.root.join("private/secret.txt")).unwrap(), "secret", "its target is not");
}
