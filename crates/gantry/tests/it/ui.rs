//! The web UI's forms: CSRF tokens and ownership are checked, as on the API.

use crate::harness::{Backend, Browser, TestServer, hidden};
use reqwest::StatusCode;

async fn signed_in(s: &TestServer, user: &str) -> Browser {
    signed_in_as(s, user, false).await
}

async fn signed_in_as(s: &TestServer, user: &str, admin: bool) -> Browser {
    let hash = gantry_app::identity::passwords::hash_password("a password for ui").unwrap();
    s.state.store().create_user(user, Some(&hash), admin).await.unwrap();
    let mut b = Browser::new();
    let (st, _) = password_sign_in(&mut b, s, user).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    b
}

/// The sign-in form, filled in as a person would.
async fn password_sign_in(b: &mut Browser, s: &TestServer, user: &str) -> (StatusCode, String) {
    let (_, page, _) = b.get(&format!("{}/login", s.url)).await;
    let csrf = hidden(&page, "csrf");
    let form = [("username", user), ("password", "a password for ui"), ("csrf", &csrf), ("next", "/")];
    let (st, page, _) = b.post(&format!("{}/login", s.url), &form).await;
    (st, page)
}

/// alice signed in, with a write token and the CLI logged in with it.
async fn alice_pushing(s: &TestServer) -> (Browser, String, crate::cli::Cli) {
    let alice = signed_in(s, "alice").await;
    let token =
        gantry::admin::create_token(&s.state, "alice", "t", gantry_domain::TokenScope::Write, None).await.unwrap();
    let cli = crate::cli::Cli::new(&s.url);
    cli.login(&token).await;
    (alice, token, cli)
}

fn token_form(csrf: &str) -> [(&'static str, &str); 4] {
    [("csrf", csrf), ("name", "t1"), ("scope", "read"), ("expires_days", "")]
}

async fn forms_need_csrf_and_rights(b: Backend) {
    let s = TestServer::start(b).await;
    let mut alice = signed_in(&s, "alice").await;
    let (_, page, _) = alice.get(&format!("{}/settings", s.url)).await;
    let csrf = hidden(&page, "csrf");
    // A token needs the CSRF token of the session.
    let (st, _, _) = alice.post(&format!("{}/settings/tokens", s.url), &token_form("forged")).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let csrf = csrf.as_str();
    let good = token_form(csrf);
    // Made by a POST that sends the browser on (a reload makes no second token); the
    // page it lands on shows the secret once.
    let (st, _, loc) = alice.post(&format!("{}/settings/tokens", s.url), &good).await;
    assert_eq!((st, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/settings#new-token")));
    let (st, page, _) = alice.get(&format!("{}/settings", s.url)).await;
    assert_eq!(st, StatusCode::OK);
    let token = page.split("id=\"new-token\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    assert!(token.starts_with("gnt_"), "{page}");
    let u = s.state.store().user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(s.state.store().list_tokens(u.id).await.unwrap().len(), 1);
    // Reloading shows it no more, and the token list never shows a token again.
    let (_, page, _) = alice.get(&format!("{}/settings", s.url)).await;
    assert!(!page.contains(&token) && !page.contains("id=\"new-token\""), "{page}");
    assert_eq!(s.state.store().list_tokens(u.id).await.unwrap().len(), 1);

    // A private collection of alice's: bob can neither see nor manage it.
    s.state.store().create_collection("priv", gantry_domain::Visibility::Private, "", Some(u.id)).await.unwrap();
    let mut bob = signed_in(&s, "bob").await;
    let (_, page, _) = bob.get(&format!("{}/settings", s.url)).await;
    let bob_csrf = hidden(&page, "csrf");
    let (st, _, _) = bob.get(&format!("{}/c/priv", s.url)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _, _) = bob
        .post(
            &format!("{}/c/priv/settings", s.url),
            &[("csrf", &bob_csrf), ("visibility", "public"), ("description", "")],
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let coll = s.state.store().collection_access("priv", None).await.unwrap().unwrap();
    assert_eq!(coll.collection.visibility, gantry_domain::Visibility::Private);
    // alice manages it, but not without her CSRF token.
    let (st, _, _) = alice
        .post(
            &format!("{}/c/priv/members", s.url),
            &[("csrf", "x"), ("kind", "user"), ("who", "bob"), ("role", "viewer")],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, _) = alice
        .post(
            &format!("{}/c/priv/members", s.url),
            &[("csrf", csrf), ("kind", "user"), ("who", "bob"), ("role", "viewer")],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (st, page, _) = bob.get(&format!("{}/c/priv", s.url)).await;
    assert_eq!(st, StatusCode::OK, "bob is a viewer now");
    assert!(page.contains("Your role: viewer") && !page.contains("Give a role"), "viewers do not manage");
    // The last owner cannot be removed.
    let (st, _, _) = alice.post(&format!("{}/c/priv/members/remove", s.url), &[("csrf", csrf), ("who", "alice")]).await;
    assert_eq!(st, StatusCode::CONFLICT);
    // Nor demoted.
    let (st, page, _) = alice
        .post(
            &format!("{}/c/priv/members", s.url),
            &[("csrf", csrf), ("kind", "user"), ("who", "alice"), ("role", "contributor")],
        )
        .await;
    assert!(st == StatusCode::CONFLICT && page.contains("last owner"), "{st}");
    // Pages that need a session send the others to sign in.
    let (st, _, loc) = Browser::new().get(&format!("{}/tasks", s.url)).await;
    assert_eq!((st, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/login?next=%2Ftasks")));
    let (st, _, _) = bob.get(&format!("{}/admin", s.url)).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

crate::both_backends!(forms_need_csrf_and_rights);

/// Errors a browser meets are pages with the visitor's own header and a way on; programs
/// still get JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_pages_keep_the_visitor_and_the_way_back() {
    let s = TestServer::start(Backend::Sqlite).await;
    let mut alice = signed_in(&s, "alice").await;
    let u = s.state.store().user_by_name("alice").await.unwrap().unwrap();
    s.state.store().create_collection("priv", gantry_domain::Visibility::Private, "", Some(u.id)).await.unwrap();

    // An unknown page, opened in a browser: an HTML page with alice's header and a way
    // back to where she came from.
    let from = format!("{}/settings", s.url);
    let (st, h, page) = alice.navigate(&format!("{}/no/such/page", s.url), Some(&from)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"), "{h:?}");
    assert!(page.contains("Not found") && page.contains(">alice</a>"), "signed-in header: {page}");
    assert!(page.contains("href=\"/settings\">Back</a>"), "{page}");
    // The same URL for a program: JSON.
    let r = crate::harness::http().get(format!("{}/no/such/page", s.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers()["content-type"].to_str().unwrap().contains("json"));
    // A download that needs credentials, in a browser: a page that offers to sign in
    // and come back, not the browser's password prompt.
    let mut anon = Browser::new();
    let (st, h, page) = anon.navigate(&format!("{}/download/priv/absent:1", s.url), None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(h.get("www-authenticate").is_none() && page.contains("Sign-in needed"), "{page}");
    assert!(page.contains("href=\"/login?next=%2Fdownload%2Fpriv%2Fabsent%3A1\""), "{page}");
    // Signed in, one that is not there: not found.
    let (st, _, page) = alice.navigate(&format!("{}/download/priv/absent:1", s.url), None).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{page}");
    assert!(page.contains("Not found") && page.contains(">alice</a>"), "{page}");
    // A private page for a visitor not signed in: sign in, and come back here.
    let (st, _, page) = anon.navigate(&format!("{}/c/priv", s.url), None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(page.contains("href=\"/login?next=%2Fc%2Fpriv\""), "{page}");
    // A page error (a form refused) shows alice's header too.
    let (st, page, _) = alice.post(&format!("{}/settings/tokens", s.url), &token_form("forged")).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(page.contains(">alice</a>") && page.contains("Home"), "{page}");
    // "Sign in" from a page comes back to it.
    let (_, _, page) = anon.navigate(&format!("{}/login", s.url), Some(&format!("{}/c/public-x?q=1", s.url))).await;
    assert_eq!(hidden(&page, "next"), "/c/public-x?q=1");
    let (_, _, page) = anon.navigate(&format!("{}/login", s.url), Some("https://evil.example/x")).await;
    assert_eq!(hidden(&page, "next"), "/");
    // The icon browsers ask for.
    let r = crate::harness::http().get(format!("{}/favicon.ico", s.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
}

/// The admin page runs garbage collection: administrators only, with their CSRF token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_runs_garbage_collection() {
    let s = TestServer::start(Backend::Sqlite).await;
    let mut bob = signed_in(&s, "bob").await;
    let (_, page, _) = bob.get(&format!("{}/settings", s.url)).await;
    let bob_csrf = hidden(&page, "csrf");
    let (st, _, _) = bob.post(&format!("{}/admin/gc", s.url), &[("csrf", &bob_csrf)]).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "not for users");
    let mut root = signed_in_as(&s, "root", true).await;
    let (st, page, _) = root.get(&format!("{}/admin", s.url)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(!page.contains("id=\"gc-report\""), "no report before a run");
    let csrf = hidden(&page, "csrf");
    let (st, _, _) = root.post(&format!("{}/admin/gc", s.url), &[("csrf", "forged")]).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, loc) = root.post(&format!("{}/admin/gc", s.url), &[("csrf", &csrf)]).await;
    assert_eq!((st, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/admin?blobs=0&uploads=0")));
    let (_, page, _) = root.get(&format!("{}{}", s.url, loc.unwrap())).await;
    assert!(page.contains("Garbage collection removed 0 blobs and 0 unfinished uploads"), "{page}");
}

/// A dataset's page offers its files, never its manifest as "the download"; a SIF's page
/// names the file's own SHA-256.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_pages_offer_what_a_download_gives() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (mut alice, token, cli) = alice_pushing(&s).await;
    std::fs::create_dir_all(cli.path("ds/raw")).unwrap();
    std::fs::write(cli.path("ds/raw/a.bin"), b"some data").unwrap();
    cli.ok(&["push", "ds", "lab/ds:v1"]).await;
    let sif = crate::clients::make_sif(cli.home.path(), "app.sif", &[7u8; 5000]).await;
    cli.ok(&["push", sif.to_str().unwrap(), "lab/app:1.0"]).await;

    let (st, page, _) = alice.get(&format!("{}/i/lab/ds:v1", s.url)).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert!(
        !page.contains("id=\"download\"") && !page.contains("id=\"manifest\""),
        "no manifest as the download: {page}"
    );
    assert!(page.contains("gantry pull lab/ds:v1 -o DIR"), "{page}");
    let at = format!("href=\"{}/download/lab/ds", s.url);
    let rest = page.split(at.as_str()).nth(1).unwrap_or_else(|| panic!("no file link: {page}"));
    let file_link = format!("{}/download/lab/ds{}", s.url, rest.split('"').next().unwrap());
    assert!(file_link.ends_with("/raw/a.bin"), "{file_link}");
    let r = crate::harness::http().get(&file_link).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"some data", "{file_link} is the file");

    let (_, page, _) = alice.get(&format!("{}/i/lab/app:1.0", s.url)).await;
    let sha = crate::harness::sha256(&std::fs::read(&sif).unwrap());
    let sha = sha.strip_prefix("sha256:").unwrap_or(&sha);
    assert!(page.contains(&format!("id=\"file-sha256\">{sha}<")), "the file's own SHA-256: {page}");
}

/// A collection lists its repositories once each with their tags; a repository's page
/// has the tag table, and its owners delete tags and images from it (with their CSRF
/// token), others cannot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_pages_list_tags_and_owners_delete() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (mut alice, _token, cli) = alice_pushing(&s).await;
    let sif = crate::clients::make_sif(cli.home.path(), "app.sif", &[7u8; 3000]).await;
    let sif = sif.to_str().unwrap();
    for t in ["1.0", "latest"] {
        cli.ok(&["push", sif, &format!("lab/app:{t}")]).await;
    }
    std::fs::write(cli.path("other.txt"), b"other").unwrap();
    cli.ok(&["push", cli.path("other.txt").to_str().unwrap(), "lab/app:old"]).await;
    cli.ok(&["push", cli.path("other.txt").to_str().unwrap(), "lab/notes:v1"]).await;
    let coll = s.state.store().collection_access("lab", None).await.unwrap().unwrap().collection;
    s.state.store().update_collection(coll.id, Some(gantry_domain::Visibility::Public), None).await.unwrap();

    let (_, page, _) = alice.get(&format!("{}/c/lab", s.url)).await;
    let table = page.split("id=\"repositories\"").nth(1).unwrap_or_else(|| panic!("{page}"));
    assert_eq!(table.matches("href=\"/r/lab/app\"").count(), 1, "one row per repository: {table}");
    assert!(table.contains("href=\"/i/lab/app:latest\"") && table.contains("href=\"/i/lab/app:old\""), "{table}");
    assert!(table.contains("href=\"/r/lab/notes\""), "{table}");

    let (st, page, _) = alice.get(&format!("{}/r/lab/app", s.url)).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    let tags = page.split("id=\"tags\"").nth(1).unwrap().split("</table>").next().unwrap();
    assert_eq!(tags.matches("<tr><td data-label=\"Tag\"><a href=\"/i/lab/app:").count(), 3, "{tags}");
    assert!(tags.contains("<td data-label=\"Pushed by\">alice</td>"), "who pushed it: {tags}");
    assert!(
        tags.contains("<td data-label=\"Architecture\">amd64</td>"),
        "the SIF's architecture (siftool --partarch 2): {tags}"
    );
    let images = page.split("id=\"images\"").nth(1).unwrap().split("</table>").next().unwrap();
    assert_eq!(images.matches("/i/lab/app@sha256:").count(), 2, "two images: {images}");
    let csrf = hidden(&page, "csrf");

    // Anyone may read a public repository, but its delete buttons are for owners.
    let mut bob = signed_in(&s, "bob").await;
    let (st, page, _) = bob.get(&format!("{}/r/lab/app", s.url)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(!page.contains("action=\"/images/delete\""), "{page}");
    let (_, settings, _) = bob.get(&format!("{}/settings", s.url)).await;
    let bob_csrf = hidden(&settings, "csrf");
    fn del<'a>(csrf: &'a str, r: &'a str) -> [(&'static str, &'a str); 2] {
        [("csrf", csrf), ("reference", r)]
    }
    let (st, _, _) = bob.post(&format!("{}/images/delete", s.url), &del(&bob_csrf, "lab/app:old")).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "bob owns nothing here");
    let (st, _, _) = alice.post(&format!("{}/images/delete", s.url), &del("forged", "lab/app:old")).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let app_repo = s.state.store().repo_by_name("lab/app").await.unwrap().unwrap();
    assert_eq!(s.state.store().tags_in_repo(app_repo.id).await.unwrap().len(), 3, "nothing deleted yet");

    // A tag: the image stays under its other tags.
    let (st, _, loc) = alice.post(&format!("{}/images/delete", s.url), &del(&csrf, "lab/app:1.0")).await;
    assert_eq!((st, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/r/lab/app?deleted=lab%2Fapp%3A1%2E0")));
    let (_, page, _) = alice.get(&format!("{}{}", s.url, loc.unwrap())).await;
    assert!(page.contains("Deleted lab/app:1.0."), "{page}");
    let left: Vec<_> = s.state.store().tags_in_repo(app_repo.id).await.unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(left, ["latest", "old"]);
    // An image by digest: it goes with its tags.
    let latest = s.state.store().tags_in_repo(app_repo.id).await.unwrap().remove(0).digest;
    let (st, _, _) = alice.post(&format!("{}/images/delete", s.url), &del(&csrf, &format!("lab/app@{latest}"))).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let left: Vec<_> = s.state.store().tags_in_repo(app_repo.id).await.unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(left, ["old"]);
    // Twice: it is not there any more, said so.
    let (st, page, _) = alice.post(&format!("{}/images/delete", s.url), &del(&csrf, "lab/app:1.0")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(page.contains("not there any more"), "{page}");

    // Search finds images by their collection owner's name.
    let (_, page, _) = Browser::new().get(&format!("{}/?q=alic", s.url)).await;
    assert!(page.contains("href=\"/i/lab/notes:v1\""), "found by owner: {page}");
    let (_, page, _) = Browser::new().get(&format!("{}/?q=bob", s.url)).await;
    assert!(!page.contains("href=\"/i/lab/notes:v1\""), "{page}");
}

/// Administrators disable and enable accounts and make administrators from the admin
/// page: a disabled account's session, API token and password sign-in all stop working
/// and say why; nobody changes their own account, the last administrator stays; the page
/// shows each collection's storage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_disable_accounts_and_see_storage() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (mut alice, token, cli) = alice_pushing(&s).await;
    std::fs::write(cli.path("f.bin"), vec![1u8; 3000]).unwrap();
    cli.ok(&["push", cli.path("f.bin").to_str().unwrap(), "lab/f:1"]).await;
    let mut bob = signed_in(&s, "bob").await;
    let (_, page, _) = bob.get(&format!("{}/settings", s.url)).await;
    let bob_csrf = hidden(&page, "csrf");
    let mut root = signed_in_as(&s, "root", true).await;
    let (_, page, _) = root.get(&format!("{}/admin", s.url)).await;
    let csrf = hidden(&page, "csrf");
    let storage = page.split("id=\"storage\"").nth(1).unwrap().split("</table>").next().unwrap();
    assert!(storage.contains("href=\"/c/lab\"") && storage.contains("<td>2.9 KiB</td>"), "{storage}");
    let change = |who: &str, what: &str| format!("{}/admin/users/{who}/{what}", s.url);
    let api = |t: String| {
        let url = format!("{}/api/v1/collections/lab", s.url);
        async move { crate::harness::http().get(url).bearer_auth(t).send().await.unwrap() }
    };
    assert_eq!(api(token.clone()).await.status(), StatusCode::OK);

    // Not for users, not without the CSRF token.
    let (st, _, _) = bob.post(&change("alice", "disable"), &[("csrf", &bob_csrf)]).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, _) = root.post(&change("alice", "disable"), &[("csrf", "forged")]).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, _) = root.post(&change("alice", "sudo"), &[("csrf", &csrf)]).await;
    assert!(st.is_client_error(), "{st}");
    assert_eq!(api(token.clone()).await.status(), StatusCode::OK, "nothing changed yet");

    let (st, _, loc) = root.post(&change("alice", "disable"), &[("csrf", &csrf)]).await;
    assert_eq!((st, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/admin?changed=alice#users")));
    let (_, page, _) = root.get(&format!("{}/admin?changed=alice", s.url)).await;
    assert!(page.contains("alice’s account was changed") && page.contains(">disabled</span>"), "{page}");
    // Her session ended, her token is refused and says why, and she cannot sign in again.
    let (st, _, loc) = alice.get(&format!("{}/settings", s.url)).await;
    assert_eq!((st, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/login?next=%2Fsettings")));
    let r = api(token.clone()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("is disabled"));
    let (st, page) = password_sign_in(&mut Browser::new(), &s, "alice").await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(page.contains("is disabled"), "{page}");
    // Enabled again: the same token works.
    let (st, _, _) = root.post(&change("alice", "enable"), &[("csrf", &csrf)]).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(api(token.clone()).await.status(), StatusCode::OK);

    // root cannot change their own account, nor leave the server without an administrator.
    let (st, page, _) = root.post(&change("root", "remove-admin"), &[("csrf", &csrf)]).await;
    assert_eq!(st, StatusCode::CONFLICT, "{page}");
    let (st, _, _) = root.post(&change("bob", "make-admin"), &[("csrf", &csrf)]).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert!(s.state.store().user_by_name("bob").await.unwrap().unwrap().is_admin);
    let (st, _, _) = bob.get(&format!("{}/admin", s.url)).await;
    assert_eq!(st, StatusCode::OK, "bob administers now");
    let (st, _, _) = bob.post(&change("root", "remove-admin"), &[("csrf", &bob_csrf)]).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (st, page, _) = root.get(&format!("{}/admin", s.url)).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{page}");
    let (st, page, _) = bob.post(&change("alice", "make-admin"), &[("csrf", &bob_csrf)]).await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{page}");
    let (st, _, _) = bob.post(&change("alice", "disable"), &[("csrf", &bob_csrf)]).await;
    assert_eq!(st, StatusCode::SEE_OTHER, "bob is still an administrator");
    let (st, page, _) = bob.post(&change("nobody", "disable"), &[("csrf", &bob_csrf)]).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{page}");
    // bob is the last enabled administrator: the operator cannot disable him either.
    let e = s.state.users.set_disabled(&gantry_domain::Principal::operator(), "bob", true).await.unwrap_err();
    assert_eq!(e.kind, gantry_domain::ErrorKind::Conflict, "{e}");
}
