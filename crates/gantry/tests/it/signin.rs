//! Browser sign-in: through the built-in Globus service (as Globus and as a generic
//! OpenID Connect provider), a user office and local passwords, with the tampering a
//! relying party has to withstand.

use crate::globus::{GATEWAY, GATEWAY_SECRET, GlobusServer};
use crate::harness::{Backend, Browser, TestServer, hidden};
use gantry_app::config::{ProviderConfig, ProviderKind};
use reqwest::StatusCode;
use serde_json::Value;

crate::both_backends!(
    globus_sign_in_links_identities_and_groups,
    sign_in_refuses_tampering,
    other_providers_and_passwords
);

/// Gantry and the built-in Globus service, each knowing the other's URL: the gateway
/// client may redirect to Gantry's callbacks for providers `globus` and `plain-oidc`.
async fn pair(b: Backend, tweak: impl FnOnce(&mut gantry_server::Config)) -> (TestServer, GlobusServer) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gantry_url = format!("http://{}", listener.local_addr().unwrap());
    let callbacks =
        vec![format!("{gantry_url}/auth/callback/globus"), format!("{gantry_url}/auth/callback/plain-oidc")];
    let g = GlobusServer::start_with(tempfile::tempdir().unwrap(), |c| {
        c.clients.iter_mut().find(|c| c.name == GATEWAY).unwrap().redirect_uris = callbacks;
    })
    .await;
    let provider = |id: &str, kind| ProviderConfig {
        id: id.into(),
        kind,
        display_name: format!("{id} sign-in"),
        issuer: Some(g.url.clone()),
        client_id: Some(g.client_id(GATEWAY)),
        client_secret: Some(GATEWAY_SECRET.into()),
        client_secret_file: None,
        scopes: vec![],
        groups_url: Some(g.url.clone()),
        url: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = gantry_server::Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().join("data"),
        log: "warn".into(),
        providers: vec![provider("globus", ProviderKind::Globus), provider("plain-oidc", ProviderKind::Oidc)],
        ..Default::default()
    };
    config.database_url = Some(crate::harness::database_url(b, dir.path()).await);
    tweak(&mut config);
    (TestServer::start_listener(b, config, dir, listener).await, g)
}

/// Signs in at the built-in Globus service's form and consents; returns where the
/// service sends the browser back (Gantry's callback URL with code and state).
pub(crate) async fn at_globus(b: &mut Browser, globus: &str, authorize: &str, user: &str, password: &str) -> String {
    let (st, page, _) = b.get(authorize).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    let (req, csrf) = (hidden(&page, "request"), hidden(&page, "csrf"));
    let (_, page, _) = b
        .post(
            &format!("{globus}/v2/web/login"),
            &[("request", &req), ("csrf", &csrf), ("username", user), ("password", password)],
        )
        .await;
    assert!(page.contains("Allow"), "{page}");
    let (_, _, loc) =
        b.post(&format!("{globus}/v2/web/consent"), &[("request", &req), ("csrf", &csrf), ("decision", "allow")]).await;
    loc.expect("the service redirects back")
}

/// From Gantry's sign-in button to the provider's authorize URL.
async fn start(b: &mut Browser, s: &TestServer, provider: &str, next: &str) -> String {
    let (st, page, _) = b.get(&format!("{}/login", s.url)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains(&format!("/login/{provider}?next=")), "{page}");
    let (st, _, loc) = b.get(&format!("{}/login/{provider}?next={next}", s.url)).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let loc = loc.unwrap();
    assert!(loc.contains("code_challenge=") && loc.contains("code_challenge_method=S256"), "{loc}");
    assert!(loc.contains("nonce=") && loc.contains("state="), "{loc}");
    loc
}

async fn sign_in(b: &mut Browser, s: &TestServer, g: &GlobusServer, provider: &str, user: &str, pw: &str) -> String {
    let authorize = start(b, s, provider, "%2Fafter").await;
    let callback = at_globus(b, &g.url, &authorize, user, pw).await;
    let (st, page, loc) = b.get(&callback).await;
    assert_eq!((st, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/after")), "{page}");
    callback
}

async fn account(b: &mut Browser, s: &TestServer) -> (StatusCode, String) {
    let (st, page, _) = b.get(&format!("{}/settings", s.url)).await;
    (st, page)
}

fn session_cookie(b: &Browser) -> Option<&String> {
    b.cookies.get("gantry_session").filter(|v| !v.is_empty())
}

async fn globus_sign_in_links_identities_and_groups(b: Backend) {
    let group_id = gantry_globus_local::config::uuid_for("group", "Beamline Users");
    let gid = group_id.clone();
    let (s, g) = pair(b, |c| {
        c.admin_identities = vec!["globus:bob@uni.edu".into()];
        c.admin_groups = vec![gid];
    })
    .await;
    assert_eq!(g.config.groups[0].id, group_id);
    // alice signs in with her uni.edu identity; lab.gov is linked to it at Globus.
    let mut alice = Browser::new();
    sign_in(&mut alice, &s, &g, "globus", "alice@uni.edu", "alice-pass").await;
    let set = alice.cookies.keys().cloned().collect::<Vec<_>>();
    assert!(set.contains(&"gantry_session".to_string()), "{set:?}");
    let (st, page) = account(&mut alice, &s).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("alice@uni.edu") && page.contains("alice@lab.gov"), "both identities are listed: {page}");
    assert!(page.contains(&group_id), "her Globus group is known: {page}");
    assert!(page.contains("<li>Beamline Users <span"), "by the name Globus Groups gave it: {page}");
    // She gives her group a role by choosing it by name, not by pasting its id.
    let u = s.state.store().user_by_name("alice@uni.edu").await.unwrap().unwrap();
    s.state.store().create_collection("beam", gantry_domain::Visibility::Private, "", Some(u.id)).await.unwrap();
    let (_, coll, _) = alice.get(&format!("{}/c/beam", s.url)).await;
    let chooser = coll.split("id=\"give-group\"").nth(1).unwrap_or_else(|| panic!("{coll}"));
    assert!(chooser.contains(&format!("<option value=\"{group_id}\">Beamline Users</option>")), "{chooser}");
    let csrf = hidden(&coll, "csrf");
    let form = [("csrf", csrf.as_str()), ("kind", "group"), ("who", &group_id), ("role", "viewer")];
    let (st, _, _) = alice.post(&format!("{}/c/beam/members", s.url), &form).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (_, coll, _) = alice.get(&format!("{}/c/beam", s.url)).await;
    assert!(coll.contains("Globus group Beamline Users <code"), "named in the member list: {coll}");
    // Signing in with the linked identity reaches the same Gantry user.
    let mut again = Browser::new();
    sign_in(&mut again, &s, &g, "globus", "alice@lab.gov", "alice-lab-pass").await;
    let (_, page2) = account(&mut again, &s).await;
    assert!(page2.contains("id=\"username\">alice@uni.edu<"), "{page2}");
    let users: Vec<String> = s.state.store().list_users().await.unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(users, ["alice@uni.edu"], "one user for the linked identities");
    // The API knows the browser by its session too.
    let me: Value = alice.json(&format!("{}/api/v1/me", s.url)).await;
    assert_eq!(me["username"], "alice@uni.edu");
    // Admins can be designated by group (alice is in it) and by identity (bob is not).
    assert!(s.state.store().user_by_name("alice@uni.edu").await.unwrap().unwrap().is_admin);
    let mut bob = Browser::new();
    sign_in(&mut bob, &s, &g, "globus", "bob@uni.edu", "bob-pass").await;
    assert!(s.state.store().user_by_name("bob@uni.edu").await.unwrap().unwrap().is_admin);

    // Sign-out needs the session's CSRF token, ends the session and revokes the Globus
    // tokens Gantry held.
    let id_hash = gantry_app::secrets::hash_token(session_cookie(&alice).unwrap());
    let sess = s.state.store().session(&id_hash).await.unwrap().unwrap();
    let tokens = s.state.sealer().open::<serde_json::Value>(sess.user.id, sess.tokens.as_ref().unwrap()).unwrap();
    let held = tokens["access_token"].as_str().unwrap().to_string();
    let introspect = |tok: String| {
        let url = format!("{}/v2/oauth2/token/introspect", g.url);
        let gw = g.client_id(GATEWAY);
        async move {
            let r = crate::harness::http()
                .post(url)
                .basic_auth(gw, Some(GATEWAY_SECRET))
                .form(&[("token", tok.as_str())])
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()["active"].as_bool().unwrap()
        }
    };
    assert!(introspect(held.clone()).await, "the token is live while signed in");
    let (st, _, _) = alice.post(&format!("{}/logout", s.url), &[("csrf", "forged")]).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "no sign-out without the CSRF token");
    assert_eq!(account(&mut alice, &s).await.0, StatusCode::OK, "still signed in");
    let (_, page) = account(&mut alice, &s).await;
    let csrf = hidden(&page, "csrf");
    let (st, _, loc) = alice.post(&format!("{}/logout", s.url), &[("csrf", &csrf)]).await;
    assert_eq!((st, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/login")));
    assert!(session_cookie(&alice).is_none(), "the cookie is cleared");
    assert!(s.state.store().session(&id_hash).await.unwrap().is_none());
    assert!(!introspect(held).await, "Gantry revoked the Globus token at sign-out");
    // The old cookie value no longer works.
    let r = alice
        .c
        .get(format!("{}/api/v1/me", s.url))
        .header("cookie", format!("gantry_session={}", sess.csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

async fn sign_in_refuses_tampering(b: Backend) {
    let (s, g) = pair(b, |_| {}).await;
    let refused = |st: StatusCode| st.is_client_error();

    // Wrong state: unknown to Gantry.
    let mut m = Browser::new();
    let authorize = start(&mut m, &s, "globus", "%2F").await;
    let callback = at_globus(&mut m, &g.url, &authorize, "bob@uni.edu", "bob-pass").await;
    let forged = replace_first(&callback, "state=", "state=x");
    let (st, page, _) = m.get(&forged).await;
    assert!(refused(st) && page.contains("start again"), "{st} {page}");
    assert!(session_cookie(&m).is_none());
    // The real state still works once (a wrong one does not consume it)...
    let (st, _, _) = m.get(&callback).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert!(session_cookie(&m).is_some());
    // ...and only once: a replayed callback is refused.
    let mut replay = Browser::new();
    replay.cookies = m.cookies.clone();
    replay.cookies.remove("gantry_session");
    let (st, _, _) = replay.get(&callback).await;
    assert!(refused(st), "{st}");
    assert!(session_cookie(&replay).is_none());

    // A callback in another browser than the one that started the sign-in.
    let mut a = Browser::new();
    let authorize = start(&mut a, &s, "globus", "%2F").await;
    let callback = at_globus(&mut a, &g.url, &authorize, "bob@uni.edu", "bob-pass").await;
    let mut other = Browser::new();
    let (st, page, _) = other.get(&callback).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("another browser"), "{page}");
    assert!(session_cookie(&other).is_none());

    // A replayed code under a fresh state: the provider refuses it.
    let old_code = callback.split("code=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let mut c = Browser::new();
    let authorize = start(&mut c, &s, "globus", "%2F").await;
    let fresh = at_globus(&mut c, &g.url, &authorize, "bob@uni.edu", "bob-pass").await;
    let (st, _, _) = c.get(&fresh).await; // uses the fresh code; fine
    assert_eq!(st, StatusCode::SEE_OTHER);
    let authorize = start(&mut c, &s, "globus", "%2F").await;
    let state = authorize.split("state=").nth(1).unwrap().split('&').next().unwrap();
    let (st, page, _) = c.get(&format!("{}/auth/callback/globus?code={old_code}&state={state}", s.url)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "a used code is refused: {page}");

    // Wrong PKCE verifier and wrong nonce: the stored sign-in is altered before the
    // callback (as if the wrong values were used).
    for (column, expect) in [("verifier", "refused the sign-in code"), ("nonce", "nonce")] {
        let mut t = Browser::new();
        let authorize = start(&mut t, &s, "globus", "%2F").await;
        let callback = at_globus(&mut t, &g.url, &authorize, "bob@uni.edu", "bob-pass").await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE login_flows SET {column} = 'tampered-value-0123456789abcdefghijklmnop'"
        )))
        .execute(s.state.store().pool())
        .await
        .unwrap();
        let (st, page, _) = t.get(&callback).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{column}: {page}");
        assert!(page.contains(expect), "{column}: {page}");
        assert!(session_cookie(&t).is_none());
    }
    // An empty PKCE verifier, too.
    let mut t = Browser::new();
    let authorize = start(&mut t, &s, "globus", "%2F").await;
    let callback = at_globus(&mut t, &g.url, &authorize, "bob@uni.edu", "bob-pass").await;
    sqlx::query("UPDATE login_flows SET verifier = ''").execute(s.state.store().pool()).await.unwrap();
    assert_eq!(t.get(&callback).await.0, StatusCode::UNAUTHORIZED);

    // A foreign redirect_uri: the provider refuses to send the code anywhere else.
    let mut f = Browser::new();
    let authorize = start(&mut f, &s, "globus", "%2F").await;
    let evil = replace_first(&authorize, "redirect_uri=", "redirect_uri=https%3A%2F%2Fevil.example%2Fcb&x=");
    let (st, _, loc) = f.get(&evil).await;
    assert_eq!((st, loc), (StatusCode::BAD_REQUEST, None));

    // The provider reports an error (the user said no).
    let mut d = Browser::new();
    let authorize = start(&mut d, &s, "globus", "%2F").await;
    let state = authorize.split("state=").nth(1).unwrap().split('&').next().unwrap();
    let (st, page, _) = d.get(&format!("{}/auth/callback/globus?error=access_denied&state={state}", s.url)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(page.contains("access_denied"), "{page}");

    // Open redirects: `next` must stay on the site.
    let mut o = Browser::new();
    let authorize = start(&mut o, &s, "globus", "https%3A%2F%2Fevil.example%2F").await;
    let callback = at_globus(&mut o, &g.url, &authorize, "bob@uni.edu", "bob-pass").await;
    let (_, _, loc) = o.get(&callback).await;
    assert_eq!(loc.as_deref(), Some("/"));

    // Sessions end when idle too long and after their absolute lifetime.
    let id_hash = gantry_app::secrets::hash_token(session_cookie(&o).unwrap());
    assert_eq!(account(&mut o, &s).await.0, StatusCode::OK);
    sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - 86400 WHERE id_hash = $1")
        .bind(&id_hash)
        .execute(s.state.store().pool())
        .await
        .unwrap();
    let (st, _) = account(&mut o, &s).await;
    assert_eq!(st, StatusCode::SEE_OTHER, "idle session ended");
    let (_, _, _) = o.get(&callback).await; // refused (replay), so sign in again:
    sign_in(&mut o, &s, &g, "globus", "bob@uni.edu", "bob-pass").await;
    let id_hash = gantry_app::secrets::hash_token(session_cookie(&o).unwrap());
    sqlx::query("UPDATE sessions SET expires_at = 1 WHERE id_hash = $1")
        .bind(&id_hash)
        .execute(s.state.store().pool())
        .await
        .unwrap();
    assert_eq!(account(&mut o, &s).await.0, StatusCode::SEE_OTHER, "expired session ended");

    // CSRF: the API with a session cookie needs the X-CSRF-Token header to change anything.
    sign_in(&mut o, &s, &g, "globus", "bob@uni.edu", "bob-pass").await;
    let (_, page) = account(&mut o, &s).await;
    let csrf = hidden(&page, "csrf");
    let cookies = o.cookie_header();
    let post = |csrf: Option<String>| {
        let mut r =
            o.c.post(format!("{}/api/v1/tokens", s.url))
                .header("cookie", cookies.clone())
                .json(&serde_json::json!({"name": "t", "scope": "read"}));
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        r.send()
    };
    assert_eq!(post(None).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(post(Some("wrong".into())).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(post(Some(csrf)).await.unwrap().status(), StatusCode::CREATED);
    // Login forms need the browser's CSRF token.
    let mut p = Browser::new();
    let (st, _, _) = p.post(&format!("{}/login", s.url), &[("username", "x"), ("password", "y"), ("csrf", "z")]).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

fn fields<'a>(user: &'a str, password: &'a str, csrf: &'a str) -> [(&'static str, &'a str); 4] {
    [("username", user), ("password", password), ("next", "/"), ("csrf", csrf)]
}

/// Replaces the first `pat` in `s` by `with` (enough for query strings).
fn replace_first(s: &str, pat: &str, with: &str) -> String {
    s.replacen(pat, with, 1)
}

/// A user office: accepts `ALICE`/`office-pass` case-insensitively and confirms the
/// identity as `alice.office`; anything else is refused.
async fn user_office() -> String {
    use axum::routing::post;
    async fn check(form: axum::Form<std::collections::HashMap<String, String>>) -> axum::response::Response {
        use axum::response::IntoResponse;
        let ok = form.get("username").is_some_and(|u| u.eq_ignore_ascii_case("alice"))
            && form.get("password").is_some_and(|p| p == "office-pass");
        if ok {
            axum::Json(
                serde_json::json!({"username": "alice.office", "name": "Alice Office", "email": "a@fac.example"}),
            )
            .into_response()
        } else {
            StatusCode::UNAUTHORIZED.into_response()
        }
    }
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/check", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, axum::Router::new().route("/check", post(check))).await.unwrap() });
    url
}

async fn other_providers_and_passwords(b: Backend) {
    let office = user_office().await;
    let (s, g) = pair(b, |c| {
        c.providers.push(ProviderConfig::user_office("office", "Facility user office", &office));
        c.providers.push(ProviderConfig::user_office("down", "Closed office", "http://127.0.0.1:9/check"));
    })
    .await;

    // The built-in service used as a plain OpenID Connect provider: no identity linking.
    let mut o = Browser::new();
    sign_in(&mut o, &s, &g, "plain-oidc", "alice@uni.edu", "alice-pass").await;
    let (_, page) = account(&mut o, &s).await;
    assert!(page.contains("plain-oidc") && !page.contains("alice@lab.gov"), "{page}");

    // The user office: the identity is the one the office confirms.
    let mut u = Browser::new();
    let (_, page, _) = u.get(&format!("{}/login", s.url)).await;
    assert!(page.contains("Facility user office"), "{page}");
    let csrf = hidden(&page, "csrf");
    let (st, page, _) = u.post(&format!("{}/login/office", s.url), &fields("alice", "wrong", &csrf)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{page}");
    assert!(page.contains("did not accept"), "{page}");
    assert!(session_cookie(&u).is_none());
    let (st, _, _) = u.post(&format!("{}/login/office", s.url), &fields("ALICE", "office-pass", "bad")).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "CSRF");
    let (st, _, _) = u.post(&format!("{}/login/office", s.url), &fields("ALICE", "office-pass", &csrf)).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (_, page) = account(&mut u, &s).await;
    assert!(page.contains("id=\"username\">alice.office<") && page.contains("a@fac.example"), "{page}");
    let (st, page, _) = u.post(&format!("{}/login/down", s.url), &fields("alice", "office-pass", &csrf)).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{page}");

    // Local accounts sign in with their password.
    let hash = gantry_app::identity::passwords::hash_password("local-password").unwrap();
    s.state.store().create_user("dana", Some(&hash), false).await.unwrap();
    let mut l = Browser::new();
    let (_, page, _) = l.get(&format!("{}/login", s.url)).await;
    let csrf = hidden(&page, "csrf");
    let (st, _, _) = l.post(&format!("{}/login", s.url), &fields("dana", "wrong-password", &csrf)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _, _) = l.post(&format!("{}/login", s.url), &fields("nobody", "local-password", &csrf)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _, _) = l.post(&format!("{}/login", s.url), &fields("dana", "local-password", &csrf)).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (_, page) = account(&mut l, &s).await;
    assert!(page.contains("id=\"username\">dana<"), "{page}");
    // Guessing is slowed down: after five failures the account waits, even with the
    // right password; other accounts are not affected.
    let hash = gantry_app::identity::passwords::hash_password("erins-password").unwrap();
    s.state.store().create_user("erin", Some(&hash), false).await.unwrap();
    for _ in 0..5 {
        let (st, _, _) = l.post(&format!("{}/login", s.url), &fields("erin", "guess", &csrf)).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    let (st, page, _) = l.post(&format!("{}/login", s.url), &fields("erin", "erins-password", &csrf)).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{page}");
    assert!(page.contains("Too many failed sign-ins"), "{page}");
    let (st, _, _) = l.post(&format!("{}/login", s.url), &fields("dana", "local-password", &csrf)).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    // An OIDC identity whose name matches a local account gets an account of its own.
    let hash = gantry_app::identity::passwords::hash_password("bobs-local-pw").unwrap();
    s.state.store().create_user("bob@uni.edu", Some(&hash), true).await.unwrap();
    let mut bob = Browser::new();
    sign_in(&mut bob, &s, &g, "globus", "bob@uni.edu", "bob-pass").await;
    let (_, page) = account(&mut bob, &s).await;
    assert!(page.contains("id=\"username\">bob@uni.edu-2<") && !page.contains("Administrator"), "{page}");
}

#[tokio::test]
async fn cookies_are_secure_over_https() {
    let s = TestServer::start_with(Backend::Sqlite, |c| c.public_url = Some("https://gantry.example".into())).await;
    let r = crate::harness::http().get(format!("{}/login", s.url)).send().await.unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-gantry_browser="), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    let plain = TestServer::start(Backend::Sqlite).await;
    let r = crate::harness::http().get(format!("{}/login", plain.url)).send().await.unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("gantry_browser=") && !cookie.contains("Secure"), "{cookie}");
}
