//! The helper pages of the built-in service, as a portal uses them: the user is sent to
//! Browse Collections (or Select Group) with `action`, signs in, picks a collection, a
//! folder and files (or a group), and the page sends the choice back to `action`; and
//! the account pages (identities, consents, logout).

use crate::globus::GlobusServer;
use crate::harness::Browser;
use reqwest::StatusCode;

/// The hidden inputs of a page, in order, with the HTML escapes undone.
fn inputs(html: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        let mut out = s.to_string();
        for (esc, c) in [
            ("&quot;", "\""),
            ("&#34;", "\""),
            ("&#39;", "'"),
            ("&#x27;", "'"),
            ("&lt;", "<"),
            ("&#60;", "<"),
            ("&gt;", ">"),
            ("&#62;", ">"),
        ] {
            out = out.replace(esc, c);
        }
        out.replace("&amp;", "&").replace("&#38;", "&")
    };
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|rest| {
            let name = rest.split("name=\"").nth(1)?.split('"').next()?;
            let value = rest.split("value=\"").nth(1)?.split('"').next()?;
            Some((unescape(name), unescape(value)))
        })
        .collect()
}

async fn send(b: &mut Browser, url: &str, v: &[(String, String)]) -> (StatusCode, String, Option<String>) {
    let pairs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    b.post(url, &pairs).await
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_collections_sends_the_choice_to_the_portal() {
    let g = GlobusServer::start().await;
    let cluster = g.config.endpoints[0].clone();
    std::fs::create_dir_all(cluster.root.join("data/run1")).unwrap();
    std::fs::create_dir_all(cluster.root.join("data/run2")).unwrap();
    std::fs::write(cluster.root.join("data/notes.txt"), "n").unwrap();
    std::os::unix::fs::symlink("/etc", cluster.root.join("data/escape")).unwrap();
    let action = "https://portal.example.org/chosen?x=1&y=2";
    let open = format!(
        "{}/helpers/browse-collections?action={}&method=POST&folderlimit=1&filelimit=1&label=My%20run&cancelurl={}",
        g.url,
        gantry_globus_local::auth::urlencode(action),
        gantry_globus_local::auth::urlencode("https://portal.example.org/cancel")
    );
    let mut b = Browser::new();

    // Not signed in: the helper's own sign-in, which comes back here.
    let (st, _, loc) = b.get(&open).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let login = loc.unwrap();
    assert!(login.starts_with("/helpers/login?next=%2Fhelpers%2Fbrowse-collections"), "{login}");
    let (st, page, _) = b.get(&format!("{}{login}", g.url)).await;
    assert_eq!(st, StatusCode::OK);
    let next = crate::harness::hidden(&page, "next");
    let (st, _, _) = b
        .post(
            &format!("{}/helpers/login", g.url),
            &[("username", "alice@uni.edu"), ("password", "wrong"), ("next", &next)],
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _, back) = b
        .post(
            &format!("{}/helpers/login", g.url),
            &[("username", "alice@uni.edu"), ("password", "alice-pass"), ("next", &next)],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let back = back.unwrap();
    assert!(back.starts_with("/helpers/browse-collections?"), "only the helper pages are followed: {back}");
    let (st, _, loc) = b
        .post(
            &format!("{}/helpers/login", g.url),
            &[("username", "alice@uni.edu"), ("password", "alice-pass"), ("next", "https://evil.example/")],
        )
        .await;
    assert_eq!((st, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/helpers/browse-collections")));

    // The collections, then the cluster's data folder.
    let (st, page, _) = b.get(&format!("{}{back}", g.url)).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert!(page.contains("University Cluster") && page.contains("Lab Archive"), "{page}");
    let (st, page, _) = b
        .get(&format!(
            "{open}&origin_id={}&origin_path={}",
            cluster.id,
            gantry_globus_local::auth::urlencode("/~/data/")
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert!(page.contains("run1/") && page.contains("run2/") && page.contains("notes.txt"), "{page}");
    assert!(!page.contains("escape"), "links are not offered: {page}");
    let form = inputs(&page);
    let csrf = field(&form, "csrf").unwrap().to_string();
    let mut post: Vec<(String, String)> = form.clone();
    post.push(("folder".into(), "run1".into()));
    post.push(("file".into(), "notes.txt".into()));
    post.push(("label".into(), "My run".into()));
    let submit = format!("{}/helpers/browse-collections/submit", g.url);
    let (st, result, _) = send(&mut b, &submit, &post).await;
    assert_eq!(st, StatusCode::OK, "{result}");
    assert!(result.contains("method=\"POST\""), "{result}");
    assert!(result.contains("action=\"https://portal.example.org/chosen?x=1&#38;y=2\""), "{result}");
    let out = inputs(&result);
    assert_eq!(field(&out, "endpoint_id"), Some(cluster.id.as_str()));
    assert_eq!(field(&out, "path"), Some("/~/data/"));
    assert_eq!(field(&out, "folder[0]"), Some("run1"));
    assert_eq!(field(&out, "file[0]"), Some("notes.txt"));
    assert_eq!(field(&out, "label"), Some("My run"));
    assert_eq!(field(&out, "entity_type"), Some("GCP_mapped_collection"));
    assert_eq!(field(&out, "high_assurance"), Some("false"));
    assert_eq!(field(&out, "action"), Some(action), "the page's parameters are echoed");
    assert_eq!(field(&out, "cancelurl"), Some("https://portal.example.org/cancel"));

    // Refused: over the folder limit, entries that are not there, a link, a bad CSRF
    // token, a folder outside the root, an action that is not a web URL.
    let mut two = post.clone();
    two.push(("folder".into(), "run2".into()));
    assert_eq!(send(&mut b, &submit, &two).await.0, StatusCode::BAD_REQUEST, "folderlimit=1");
    for (k, v) in [("file", "missing.txt"), ("folder", "notes.txt"), ("folder", "escape")] {
        let mut bad: Vec<(String, String)> = form.clone();
        bad.push((k.into(), v.into()));
        assert_eq!(send(&mut b, &submit, &bad).await.0, StatusCode::BAD_REQUEST, "{k}={v}");
    }
    let forged: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| if k == "csrf" { (k.clone(), "0".repeat(64)) } else { (k.clone(), v.clone()) })
        .collect();
    assert_eq!(send(&mut b, &submit, &forged).await.0, StatusCode::FORBIDDEN);
    assert_ne!(csrf, "0".repeat(64));
    let outside: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| if k == "origin_path" { (k.clone(), "/~/../../etc/".into()) } else { (k.clone(), v.clone()) })
        .collect();
    assert_eq!(send(&mut b, &submit, &outside).await.0, StatusCode::FORBIDDEN);
    let (st, _, _) = b.get(&format!("{}/helpers/browse-collections?action=javascript:alert(1)", g.url)).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // bob may not read alice's cluster.
    let mut bob = Browser::new();
    bob.post(
        &format!("{}/helpers/login", g.url),
        &[("username", "bob@uni.edu"), ("password", "bob-pass"), ("next", &next)],
    )
    .await;
    let (st, _, _) = bob.get(&format!("{open}&origin_id={}&origin_path=/~/data/", cluster.id)).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

/// The attribute `attr` of the element with `id`, HTML escapes undone.
fn attr_of(html: &str, id: &str, attr: &str) -> String {
    let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {html}"));
    let tag_start = html[..at].rfind('<').unwrap();
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>').unwrap()];
    let v = tag.split(&format!("{attr}=\"")).nth(1).unwrap().split('"').next().unwrap();
    v.replace("&#38;", "&").replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gantry_transfer_page_chooses_with_globus() {
    use crate::transfers::{connected, setup};
    let crate::transfers::Setup { s, g, .. } = setup(crate::harness::Backend::Sqlite, None).await;
    let cluster = g.config.endpoints[0].clone();
    std::fs::create_dir_all(cluster.root.join("incoming")).unwrap();
    let (mut b, alice) = connected(&s, &g, "alice", "alice@uni.edu", "alice-pass").await;
    let o = crate::ocikit::Oci::as_user(&s.url, "alice", &alice);
    crate::api::push_sif(&o, "lab/tool", "1.0", b"sif bytes").await;

    let (st, page, _) = b.get(&format!("{}/transfer?ref=lab/tool:1.0", s.url)).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    let link = attr_of(&page, "choose-with-globus", "href");
    assert!(link.starts_with(&format!("{}/helpers/browse-collections?", g.url)), "{link}");
    // Signed in to Globus already (by connecting): the collections, then the cluster.
    let (st, page, _) = b.get(&link).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    let (st, page, _) = b.get(&format!("{link}&origin_id={}&origin_path=%2F~%2F", cluster.id)).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert!(!page.contains("name=\"file\""), "filelimit=0: no files to pick");
    let mut form = inputs(&page);
    form.push(("folder".into(), "incoming".into()));
    let (st, result, _) = send(&mut b, &format!("{}/helpers/browse-collections/submit", g.url), &form).await;
    assert_eq!(st, StatusCode::OK, "{result}");
    assert!(result.contains("method=\"GET\""), "{result}");
    let action = result.split("action=\"").nth(1).unwrap().split('"').next().unwrap().replace("&#38;", "&");
    let path_part = action.strip_prefix(&format!("{}/transfer/chosen/", s.url)).unwrap_or_else(|| panic!("{action}"));
    assert_eq!(gantry_domain::url::unescape_form(path_part), "lab/tool:1.0");
    // The browser sends the form by GET to Gantry, which shows the chosen folder.
    let query: Vec<String> = inputs(&result)
        .iter()
        .map(|(k, v)| {
            format!("{}={}", gantry_globus_local::auth::urlencode(k), gantry_globus_local::auth::urlencode(v))
        })
        .collect();
    let (st, _, loc) = b.get(&format!("{action}?{}", query.join("&"))).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let loc = loc.unwrap();
    let decoded = gantry_domain::url::unescape_form(&loc);
    assert!(decoded.contains(&format!("endpoint={}", cluster.id)) && decoded.contains("path=/~/incoming/"), "{loc}");
    let (st, page, _) = b.get(&format!("{}{loc}", s.url)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("<code id=\"current-path\">/~/incoming/</code>"), "{page}");
    // What is not an endpoint, a path or a folder name is refused.
    for q in
        ["endpoint_id=x%22y&path=/~/", "endpoint_id=abc&path=relative", "endpoint_id=abc&path=/~/&folder%5B0%5D=a%2Fb"]
    {
        let (st, _, _) = b.get(&format!("{action}?{q}")).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{q}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_pages_identities_consents_and_logout() {
    let g = GlobusServer::start().await;
    // A consent of alice's to the gateway, given through the real form.
    let tok = crate::globus::user_token(
        &g,
        "alice@uni.edu",
        "alice-pass",
        "urn:globus:auth:scope:transfer.api.globus.org:all",
    )
    .await;
    let active = |tok: String| {
        let url = format!("{}/v2/oauth2/token/introspect", g.url);
        let gw = g.client_id(crate::globus::GATEWAY);
        async move {
            let v = crate::harness::answer(
                crate::harness::http()
                    .post(url)
                    .basic_auth(gw, Some(crate::globus::GATEWAY_SECRET))
                    .form(&[("token", tok)]),
            )
            .await;
            v["active"].as_bool().unwrap()
        }
    };
    assert!(active(tok.clone()).await);
    let back = "redirect_uri=https%3A%2F%2Fportal.example.org%2Fhome&redirect_name=The%20Portal";
    let mut b = Browser::new();
    let (st, _, loc) = b.get(&format!("{}/v2/web/identities?{back}", g.url)).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let next = gantry_domain::url::unescape_form(loc.unwrap().split("next=").nth(1).unwrap());
    assert!(next.starts_with("/v2/web/identities?"), "{next}");
    let (st, _, loc) = b
        .post(
            &format!("{}/helpers/login", g.url),
            &[("username", "alice@uni.edu"), ("password", "alice-pass"), ("next", &next)],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (st, page, _) = b.get(&format!("{}{}", g.url, loc.unwrap())).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert!(page.contains("alice@uni.edu") && page.contains("alice@lab.gov"), "the identity set: {page}");
    assert_eq!(attr_of(&page, "return", "href"), "https://portal.example.org/home");
    assert!(page.contains("Return to The Portal"));

    let (st, page, _) = b.get(&format!("{}/v2/web/consents", g.url)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains(crate::globus::GATEWAY) && page.contains("transfer.api.globus.org:all"), "{page}");
    let (_, page, _) =
        b.get(&format!("{}/v2/web/consents?redirect_uri=javascript:alert(1)&redirect_name=x", g.url)).await;
    assert!(!page.contains("id=\"return\""), "only web URLs are linked: {page}");

    // Rescinding the gateway's consents revokes its tokens; a forged form changes nothing.
    let (_, page, _) = b.get(&format!("{}/v2/web/consents", g.url)).await;
    let csrf = crate::harness::hidden(&page, "csrf");
    let gw = g.client_id(crate::globus::GATEWAY);
    let rescind = format!("{}/v2/web/consents/rescind", g.url);
    let (st, _, _) = b.post(&rescind, &[("csrf", &"0".repeat(64)), ("client", &gw)]).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(active(tok.clone()).await);
    let (st, _, loc) = b.post(&rescind, &[("csrf", &csrf), ("client", &gw)]).await;
    assert_eq!((st, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/v2/web/consents")));
    let (_, page, _) = b.get(&format!("{}/v2/web/consents", g.url)).await;
    assert!(!page.contains(crate::globus::GATEWAY), "{page}");
    assert!(!active(tok).await, "the gateway's token is revoked with its consents");

    let (st, page, _) = b.get(&format!("{}/v2/web/logout?client_id={gw}&{back}", g.url)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains(&format!("Logged out of {}", crate::globus::GATEWAY)), "{page}");
    assert_eq!(attr_of(&page, "continue", "href"), "https://portal.example.org/home");
    let (st, _, _) = b.get(&format!("{}/v2/web/identities", g.url)).await;
    assert_eq!(st, StatusCode::SEE_OTHER, "signed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_group_sends_one_of_the_users_groups() {
    use gantry_globus_local::config::{Group, GroupMember};
    let dir = tempfile::tempdir().unwrap();
    let g = GlobusServer::start_with(dir, |c| {
        c.groups.push(Group {
            id: String::new(),
            name: "Detector Team".into(),
            description: "Detector people".into(),
            members: vec![
                GroupMember { username: "carol@lab.gov".into(), role: "admin".into() },
                GroupMember { username: "alice@lab.gov".into(), role: "member".into() },
            ],
        });
    })
    .await;
    let id_of = |name: &str| g.config.groups.iter().find(|x| x.name == name).unwrap().id.clone();
    let (beamline, detector) = (id_of("Beamline Users"), id_of("Detector Team"));
    let action = "https://portal.example.org/share?x=1";
    let open = |role: &str| {
        format!(
            "{}/helpers/select-group?action={}&cancelurl={}{role}",
            g.url,
            gantry_globus_local::auth::urlencode(action),
            gantry_globus_local::auth::urlencode("https://portal.example.org/cancel")
        )
    };
    // Signed in with the linked lab.gov identity: alice's groups through either identity.
    let mut b = Browser::new();
    let (st, _, loc) = b.get(&open("")).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let next = gantry_domain::url::unescape_form(loc.unwrap().split("next=").nth(1).unwrap());
    assert!(next.starts_with("/helpers/select-group?"), "{next}");
    let (st, _, _) = b
        .post(
            &format!("{}/helpers/login", g.url),
            &[("username", "alice@lab.gov"), ("password", "alice-lab-pass"), ("next", &next)],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (st, page, _) = b.get(&open("")).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert!(page.contains("Beamline Users") && page.contains("Detector Team"), "{page}");
    assert!(page.contains("(admin)") && page.contains("(member)"), "{page}");
    let (_, page, _) = b.get(&format!("{}&filter=detector", open(""))).await;
    assert!(page.contains("Detector Team") && !page.contains("Beamline Users"), "{page}");

    // role=admin: only the groups alice administers are offered, and only they are taken.
    let (st, page, _) = b.get(&open("&role=admin")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("Beamline Users") && !page.contains("Detector Team"), "{page}");
    let form = inputs(&page);
    let submit = format!("{}/helpers/select-group/submit", g.url);
    let mut post = form.clone();
    post.push(("group_id".into(), beamline.clone()));
    let (st, result, _) = send(&mut b, &submit, &post).await;
    assert_eq!(st, StatusCode::OK, "{result}");
    assert!(result.contains("method=\"POST\""), "{result}");
    let out = inputs(&result);
    assert_eq!(field(&out, "group_id"), Some(beamline.as_str()));
    assert_eq!(field(&out, "group_name"), Some("Beamline Users"));
    assert_eq!(field(&out, "role"), Some("admin"), "the user's role in the group");
    assert_eq!(field(&out, "action"), Some(action), "the page's parameters are echoed");
    assert_eq!(field(&out, "cancelurl"), Some("https://portal.example.org/cancel"));

    // Refused: a group alice does not administer, an unknown group, none, a forged form.
    for id in [detector.as_str(), "00000000-0000-0000-0000-000000000000", ""] {
        let mut bad = form.clone();
        bad.push(("group_id".into(), id.into()));
        assert_eq!(send(&mut b, &submit, &bad).await.0, StatusCode::BAD_REQUEST, "{id:?}");
    }
    let mut forged: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| if k == "csrf" { (k.clone(), "0".repeat(64)) } else { (k.clone(), v.clone()) })
        .collect();
    forged.push(("group_id".into(), beamline.clone()));
    assert_eq!(send(&mut b, &submit, &forged).await.0, StatusCode::FORBIDDEN);
    assert_eq!(b.get(&open("&role=owner")).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(b.get(&format!("{}/helpers/select-group?action=ftp://x", g.url)).await.0, StatusCode::BAD_REQUEST);

    // bob belongs to no group: nothing to choose.
    let mut bob = Browser::new();
    bob.post(
        &format!("{}/helpers/login", g.url),
        &[("username", "bob@uni.edu"), ("password", "bob-pass"), ("next", &next)],
    )
    .await;
    let (st, page, _) = bob.get(&open("")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("No group of yours matches") && !page.contains("Beamline Users"), "{page}");
    // bob signing in on alice's browser starts a session of his own: none of hers is left.
    b.post(
        &format!("{}/helpers/login", g.url),
        &[("username", "bob@uni.edu"), ("password", "bob-pass"), ("next", &next)],
    )
    .await;
    let (_, page, _) = b.get(&open("")).await;
    assert!(page.contains("Signed in as bob@uni.edu") && !page.contains("Beamline Users"), "{page}");
}

/// Signing in, or connecting Globus, from a transfer page with an endpoint and folder
/// chosen comes back to that endpoint and folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_page_keeps_the_chosen_folder_through_sign_in_and_connect() {
    use gantry_domain::url::escape;
    let crate::transfers::Setup { s, g, .. } = crate::transfers::setup(crate::harness::Backend::Sqlite, None).await;
    let cluster = g.config.endpoints[0].id.clone();
    let here =
        format!("/transfer?ref={}&endpoint={}&path={}", escape("lab/tool:1.0"), escape(&cluster), escape("/~/x/"));
    // Not signed in: sign in, then back here.
    let (st, _, loc) = Browser::new().get(&format!("{}{here}", s.url)).await;
    assert_eq!((st, loc), (StatusCode::SEE_OTHER, Some(format!("/login?next={}", escape(&here)))));
    // Signed in but not connected: "Connect Globus" comes back here too.
    let hash = gantry_app::identity::passwords::hash_password("local-password").unwrap();
    s.state.store().create_user("alice", Some(&hash), false).await.unwrap();
    let token =
        gantry::admin::create_token(&s.state, "alice", "t", gantry_domain::TokenScope::Write, None).await.unwrap();
    crate::api::push_sif(&crate::ocikit::Oci::as_user(&s.url, "alice", &token), "lab/tool", "1.0", b"sif bytes").await;
    let mut b = Browser::new();
    let (_, page, _) = b.get(&format!("{}/login", s.url)).await;
    let csrf = crate::harness::hidden(&page, "csrf");
    b.post(
        &format!("{}/login", s.url),
        &[("username", "alice"), ("password", "local-password"), ("csrf", &csrf), ("next", "/")],
    )
    .await;
    let (st, page, _) = b.get(&format!("{}{here}", s.url)).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert_eq!(attr_of(&page, "connect-globus", "href"), format!("/globus/connect?next={}", escape(&here)));
}
