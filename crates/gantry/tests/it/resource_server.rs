//! Gantry as a Globus resource server: Globus access tokens for Gantry's scope, checked
//! by introspection against the built-in Globus service.

use crate::globus::{GATEWAY, GATEWAY_SECRET, GlobusServer, code_flow};
use crate::harness::{Backend, TestServer, http};
use gantry_app::config::ResourceServerConfig;
use gantry_globus_local::config::{Client, ClientScope};
use reqwest::StatusCode;
use serde_json::{Value, json};

crate::both_backends!(globus_tokens_are_checked_and_cached, policies_domains_groups_and_services);

pub const APP: &str = "Gantry test app";
pub const APP_SECRET: &str = "app-secret-for-tests";
const CB: &str = "http://127.0.0.1:9/callback";
const GROUPS_SCOPE: &str = "urn:globus:auth:scope:groups.api.globus.org:view_my_groups_and_memberships";

/// The built-in Globus service with Gantry's scope depending on Groups, and an app
/// that requests tokens for Gantry.
pub async fn globus(tweak: impl FnOnce(&mut gantry_globus_local::GlobusConfig)) -> GlobusServer {
    GlobusServer::start_with(tempfile::tempdir().unwrap(), |c| {
        let gw = c.clients.iter_mut().find(|c| c.name == GATEWAY).unwrap();
        gw.scopes[0].dependent_scopes.push(GROUPS_SCOPE.into());
        c.clients.push(Client {
            id: String::new(),
            name: APP.into(),
            secret: Some(APP_SECRET.into()),
            redirect_uris: vec![CB.into()],
            scopes: vec![ClientScope { suffix: "none".into(), dependent_scopes: vec![] }],
            identity_username: None,
        });
        tweak(c);
    })
    .await
}

pub fn rs_config(g: &GlobusServer) -> ResourceServerConfig {
    ResourceServerConfig {
        session_message: Some("Gantry needs a recent sign-in".into()),
        ..ResourceServerConfig::new(&g.url, &g.client_id(GATEWAY), GATEWAY_SECRET)
    }
}

pub fn gantry_scope(g: &GlobusServer) -> String {
    format!("https://auth.globus.org/scopes/{}/all", g.client_id(GATEWAY))
}

/// A user's access token for `scope`, signed in through the service's form.
pub async fn token_for(g: &GlobusServer, user: &str, password: &str, scope: &str, rs: &str) -> String {
    let t = code_flow(&g.url, &g.client_id(APP), APP_SECRET, CB, user, password, scope).await;
    std::iter::once(&t)
        .chain(t["other_tokens"].as_array().unwrap())
        .find(|x| x["resource_server"] == rs)
        .unwrap_or_else(|| panic!("no token for {rs} in {t}"))["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn me(s: &TestServer, token: &str) -> (StatusCode, Value) {
    let r = http().get(format!("{}/api/v1/me", s.url)).bearer_auth(token).send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn gantry(b: Backend, rs: ResourceServerConfig) -> TestServer {
    TestServer::start_with(b, |c| c.resource_server = Some(rs)).await
}

async fn globus_tokens_are_checked_and_cached(b: Backend) {
    let g = globus(|_| {}).await;
    let gw = g.client_id(GATEWAY);
    let mut rs = rs_config(&g);
    rs.cache_secs = 2;
    rs.failure_cache_secs = 1;
    let s = gantry(b, rs).await;
    let alice = token_for(&g, "alice@uni.edu", "alice-pass", &gantry_scope(&g), &gw).await;
    let (st, v) = me(&s, &alice).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["username"], "alice@uni.edu");
    // The user is provisioned with her linked identities and her Globus groups.
    let u = s.state.store().user_by_name("alice@uni.edu").await.unwrap().unwrap();
    let ids: Vec<String> = s.state.store().identities_of(u.id).await.unwrap().into_iter().map(|i| i.username).collect();
    assert_eq!(ids, ["alice@lab.gov", "alice@uni.edu"]);
    let group = g.config.groups[0].id.clone();
    assert_eq!(s.state.store().user_groups(u.id).await.unwrap(), std::slice::from_ref(&group));

    // Group roles: a private collection shared with her group through the API.
    let owner = s.admin("owner").await;
    let r = http()
        .post(format!("{}/api/v1/collections", s.url))
        .bearer_auth(&owner)
        .json(&json!({"name": "beamline", "visibility": "private"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let get = |tok: String| {
        let url = format!("{}/api/v1/collections/beamline", s.url);
        async move { http().get(url).bearer_auth(tok).send().await.unwrap().status() }
    };
    assert_eq!(get(alice.clone()).await, StatusCode::NOT_FOUND, "not shared yet");
    let r = http()
        .put(format!("{}/api/v1/collections/beamline/groups/{group}", s.url))
        .bearer_auth(&owner)
        .json(&json!({"role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http()
        .put(format!("{}/api/v1/collections/beamline/groups/not%20a%20group", s.url))
        .bearer_auth(&owner)
        .json(&json!({"role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(get(alice.clone()).await, StatusCode::OK, "her group may view it");
    let listed: Value = http()
        .get(format!("{}/api/v1/collections/beamline/groups", s.url))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["groups"], json!([{"group": group, "role": "viewer"}]));
    // bob is in no group: he does not even see it.
    let bob = token_for(&g, "bob@uni.edu", "bob-pass", &gantry_scope(&g), &gw).await;
    assert_eq!(get(bob.clone()).await, StatusCode::NOT_FOUND);
    // A viewer role through a group does not let alice manage the collection.
    let r = http()
        .delete(format!("{}/api/v1/collections/beamline/groups/{group}", s.url))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Wrong audience: a Transfer token is not for Gantry.
    let transfer = token_for(
        &g,
        "alice@uni.edu",
        "alice-pass",
        "urn:globus:auth:scope:transfer.api.globus.org:all",
        "transfer.api.globus.org",
    )
    .await;
    // Globus describes a token only to its resource server and to the client it was
    // issued to, so another app's Transfer token is simply not active for Gantry...
    let (st, v) = me(&s, &transfer).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("not active"), "{v}");
    // ...and a Transfer token issued to Gantry's own client is described, and refused.
    let own = code_flow(
        &g.url,
        &gw,
        GATEWAY_SECRET,
        "http://127.0.0.1:9/callback",
        "alice@uni.edu",
        "alice-pass",
        "urn:globus:auth:scope:transfer.api.globus.org:all",
    )
    .await;
    let own = own["access_token"].as_str().unwrap();
    let (st, v) = me(&s, own).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("not issued for Gantry"), "{v}");
    // A made-up token.
    assert_eq!(me(&s, "AgOnEoFtHeSeIsNoTaToKeN").await.0, StatusCode::UNAUTHORIZED);

    // Revoked: still accepted while the cache entry lives, refused after it expires.
    // (The app that was issued the token revokes it: revoking needs the client.)
    let r = http()
        .post(format!("{}/v2/oauth2/token/revoke", g.url))
        .basic_auth(g.client_id(APP), Some(APP_SECRET))
        .form(&[("token", &alice)])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(me(&s, &alice).await.0, StatusCode::OK, "cached");
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    let (st, v) = me(&s, &alice).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("expired or was revoked"), "{v}");

    // Expired: a service issuing one-second tokens.
    let short = globus(|c| c.access_token_lifetime = Some(1)).await;
    let s2 = gantry(b, rs_config(&short)).await;
    let tok = token_for(&short, "bob@uni.edu", "bob-pass", &gantry_scope(&short), &short.client_id(GATEWAY)).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(me(&s2, &tok).await.0, StatusCode::UNAUTHORIZED);
}

async fn policies_domains_groups_and_services(b: Backend) {
    let g = globus(|_| {}).await;
    let gw = g.client_id(GATEWAY);
    let policy = g.config.policies[0].id.clone();
    let group = g.config.groups[0].id.clone();

    // At start-up, a configuration that contradicts Globus Auth is refused.
    let mut rs = rs_config(&g);
    rs.policies = vec![policy.clone()];
    rs.allowed_domains = vec!["uni.edu".into()];
    let dir = tempfile::tempdir().unwrap();
    let mut bad = gantry_server::Config { data_dir: dir.path().join("d"), ..Default::default() };
    bad.resource_server = Some(rs.clone());
    let e = gantry_app::App::open(bad.clone(), "http://x".into()).await.err().expect("refused").to_string();
    assert!(e.contains(&policy) && e.contains("make them the same"), "{e}");
    rs.policies = vec!["00000000-0000-0000-0000-00000000dead".into()];
    bad.resource_server = Some(rs);
    let e = gantry_app::App::open(bad, "http://x".into()).await.err().expect("refused").to_string();
    assert!(e.contains("check the id"), "{e}");

    // The high-assurance policy of lab.gov, as Globus says.
    let mut rs = rs_config(&g);
    rs.policies = vec![policy.clone()];
    rs.allowed_domains = vec!["lab.gov".into()];
    let s = gantry(b, rs).await;
    let carol = token_for(&g, "carol@lab.gov", "carol-pass", &gantry_scope(&g), &gw).await;
    let (st, v) = me(&s, &carol).await;
    assert_eq!((st, v["username"].as_str()), (StatusCode::OK, Some("carol@lab.gov")), "{v}");
    // alice signed in with uni.edu: a Globus Auth requirements error.
    let alice = token_for(&g, "alice@uni.edu", "alice-pass", &gantry_scope(&g), &gw).await;
    let (st, v) = me(&s, &alice).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["code"], "AuthorizationRequired", "{v}");
    assert_eq!(v["authorization_parameters"]["session_required_single_domain"], json!(["lab.gov"]), "{v}");
    assert_eq!(v["authorization_parameters"]["session_message"], "Gantry needs a recent sign-in");
    // The same on /v2, inside the OCI error envelope.
    let r = http().get(format!("{}/v2/_catalog", s.url)).bearer_auth(&alice).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], "DENIED");
    assert_eq!(v["code"], "AuthorizationRequired");
    // globus-sdk: a native-app sign-in for Gantry's scope, then Gantry's API; the GARE
    // parser reads the error as a re-authentication requirement.
    let sdk = |user: &'static str, pw: &'static str| {
        let (g_url, s_url, native, gw) = (g.url.clone(), s.url.clone(), g.client_id(crate::globus::NATIVE), gw.clone());
        async move {
            let mut cmd = tokio::process::Command::new(crate::clients::python());
            cmd.arg(crate::clients::repo_root().join("tests/clients/gantry_rs_check.py"))
                .args([&s_url, &native, &gw, user, pw])
                .env("GLOBUS_SDK_SERVICE_URL_AUTH", format!("{g_url}/"))
                .env("NO_PROXY", "127.0.0.1,localhost");
            let out = crate::clients::run(&mut cmd).await;
            serde_json::from_str::<Value>(out.trim()).unwrap_or_else(|_| panic!("{out}"))
        }
    };
    let v = sdk("alice@uni.edu", "alice-pass").await;
    assert_eq!(v["pkce"], true, "{v}");
    assert_eq!((v["status"].as_i64(), v["gare"].as_bool()), (Some(403), Some(true)), "{v}");
    assert_eq!(v["required_domains"], json!(["lab.gov"]), "{v}");
    assert_eq!(v["session_message"], "Gantry needs a recent sign-in", "{v}");
    let v = sdk("carol@lab.gov", "carol-pass").await;
    assert_eq!((v["status"].as_i64(), v["username"].as_str()), (Some(200), Some("carol@lab.gov")), "{v}");
    // alice's lab.gov identity meets the domain; the policy is evaluated and met too. The
    // token speaks for her account's primary identity, so she is the same Gantry user as
    // when she signs in with uni.edu.
    let v = sdk("alice@lab.gov", "alice-lab-pass").await;
    assert_eq!((v["status"].as_i64(), v["username"].as_str()), (Some(200), Some("alice@uni.edu")), "{v}");

    // A session older than the policy allows: the error asks for the policy again.
    let quick = globus(|c| c.policies[0].authentication_assurance_timeout = 1).await;
    let mut rs = rs_config(&quick);
    rs.policies = vec![quick.config.policies[0].id.clone()];
    rs.allowed_domains = vec!["lab.gov".into()];
    rs.failure_cache_secs = 0;
    let s4 = gantry(b, rs).await;
    let tok = token_for(&quick, "carol@lab.gov", "carol-pass", &gantry_scope(&quick), &quick.client_id(GATEWAY)).await;
    assert_eq!(me(&s4, &tok).await.0, StatusCode::OK, "fresh enough");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (st, _) = me(&s4, &tok).await;
    assert_eq!(st, StatusCode::OK, "the accepted token is cached");
    s4.state.auth.resource_server().unwrap().forget();
    let (st, v) = me(&s4, &tok).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["authorization_parameters"]["session_required_policies"], json!([quick.config.policies[0].id]), "{v}");

    // Required groups: carol is in the group, so she passes; without the group, she fails.
    let mut rs = rs_config(&g);
    rs.required_groups = vec![group.clone()];
    let s2 = gantry(b, rs).await;
    assert_eq!(me(&s2, &carol).await.0, StatusCode::OK);
    let bob = token_for(&g, "bob@uni.edu", "bob-pass", &gantry_scope(&g), &gw).await;
    let (st, v) = me(&s2, &bob).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains(&group), "{v}");

    // Service identities: refused unless listed.
    let cc = |scope: String| {
        let (url, app) = (format!("{}/v2/oauth2/token", g.url), g.client_id(APP));
        async move {
            let t: Value = http()
                .post(url)
                .basic_auth(app, Some(APP_SECRET))
                .form(&[("grant_type", "client_credentials"), ("scope", &scope)])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            t["access_token"].as_str().unwrap_or_else(|| panic!("{t}")).to_string()
        }
    };
    let service = cc(gantry_scope(&g)).await;
    let (st, v) = me(&s2, &service).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("allowed_clients"), "{v}");
    let mut rs = rs_config(&g);
    rs.allowed_clients = vec![g.client_id(APP)];
    let s3 = gantry(b, rs).await;
    let (st, v) = me(&s3, &service).await;
    assert_eq!(st, StatusCode::OK, "{v}");
}
