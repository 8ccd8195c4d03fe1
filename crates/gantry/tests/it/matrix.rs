//! Every route × {anonymous, viewer, contributor, owner, another user, admin}, on a
//! private and a public collection. Fails on any leak: a caller who may not read a
//! private thing must get 404 (or 401 when anonymous), never a 403 or its content.
//! Roles also come through Globus groups, and callers from every kind of sign-in:
//! Globus bearer tokens (Gantry as a resource server), and users provisioned by a
//! generic OpenID Connect provider and by a user office.

use crate::harness::{Backend, TestServer, sha256};
use crate::ocikit::{OCI_MANIFEST, Oci};
use reqwest::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Viewer,
    Contributor,
    Owner,
    Other,
    Admin,
    /// Viewer or contributor through a Globus group's role.
    GroupViewer,
    GroupContributor,
    /// Callers with a Globus token for Gantry: alice is in the group holding the viewer
    /// role; bob holds no role.
    GlobusGroupViewer,
    GlobusOther,
    /// Users first seen through an OpenID Connect provider (a viewer) and a user office.
    OidcViewer,
    OfficeOther,
}

impl Who {
    /// The plain role whose rights this caller must have, no more and no less.
    fn base(self) -> Who {
        match self {
            Who::GroupViewer | Who::GlobusGroupViewer | Who::OidcViewer => Who::Viewer,
            Who::GroupContributor => Who::Contributor,
            Who::GlobusOther | Who::OfficeOther => Who::Other,
            w => w,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    Read,
    Write,
    Manage,
}

/// A route to try: method, path (with `{c}` for the collection), body, access it needs.
struct Route {
    method: Method,
    path: &'static str,
    body: Body,
    need: Need,
}

#[derive(Clone, Copy)]
enum Body {
    None,
    Json(&'static str),
    Manifest,
    Bytes,
}

fn routes() -> Vec<Route> {
    use Body::*;
    use Need::*;
    let r = |method: Method, path, body, need| Route { method, path, body, need };
    vec![
        r(Method::GET, "/v2/{c}/app/manifests/v1", None, Read),
        r(Method::HEAD, "/v2/{c}/app/manifests/v1", None, Read),
        r(Method::GET, "/v2/{c}/app/manifests/{manifest}", None, Read),
        r(Method::GET, "/v2/{c}/app/blobs/{layer}", None, Read),
        r(Method::HEAD, "/v2/{c}/app/blobs/{layer}", None, Read),
        r(Method::GET, "/v2/{c}/app/tags/list", None, Read),
        r(Method::GET, "/v2/{c}/app/referrers/{manifest}", None, Read),
        r(Method::GET, "/api/v1/collections/{c}", None, Read),
        r(Method::GET, "/api/v1/collections/{c}/images", None, Read),
        r(Method::GET, "/api/v1/images/{c}/app:v1", None, Read),
        r(Method::GET, "/api/v1/images/{c}/app@{manifest}", None, Read),
        r(Method::GET, "/api/v1/repositories/{c}/app", None, Read),
        r(Method::GET, "/download/{c}/app:v1", None, Read),
        r(Method::GET, "/download/{c}/app@{manifest}", None, Read),
        r(Method::POST, "/v2/{c}/app/blobs/uploads/", None, Write),
        r(Method::POST, "/v2/{c}/app/blobs/uploads/?digest={newblob}", Bytes, Write),
        r(Method::POST, "/v2/{c}/app/blobs/uploads/?mount={layer}&from={c}/app", None, Write),
        r(Method::PUT, "/v2/{c}/app/manifests/pushed", Manifest, Write),
        r(Method::POST, "/v2/{c}/newrepo/blobs/uploads/", None, Write),
        r(Method::GET, "/api/v1/collections/{c}/members", None, Manage),
        r(Method::PUT, "/api/v1/collections/{c}/members/olga", Json(r#"{"role":"viewer"}"#), Manage),
        r(Method::DELETE, "/api/v1/collections/{c}/members/carl", None, Manage),
        r(Method::PATCH, "/api/v1/collections/{c}", Json(r#"{"description":"changed"}"#), Manage),
        r(Method::DELETE, "/v2/{c}/app/manifests/deltag", None, Manage),
        r(Method::DELETE, "/api/v1/images/{c}/app:deltag2", None, Manage),
        r(Method::DELETE, "/v2/{c}/app/blobs/{orphan}", None, Manage),
        r(Method::DELETE, "/api/v1/collections/{c}", None, Manage),
    ]
}

fn allowed(who: Who, public: bool, need: Need) -> bool {
    match who.base() {
        Who::Owner | Who::Admin => true,
        Who::Contributor => need <= Need::Write,
        Who::Viewer => need == Need::Read,
        _ => public && need == Need::Read, // anonymous and users without a role
    }
}

/// The status a refused caller must get.
fn refusal(who: Who, public: bool) -> u16 {
    match who.base() {
        Who::Anonymous => 401,
        Who::Other if !public => 404,
        _ => 403,
    }
}

async fn matrix_for(b: Backend, who: Who) {
    let globus = match who {
        Who::GlobusGroupViewer | Who::GlobusOther => Some(crate::resource_server::globus(|_| {}).await),
        _ => None,
    };
    let rs = globus.as_ref().map(crate::resource_server::rs_config);
    let s = TestServer::start_with(b, |c| c.resource_server = rs).await;
    let group = gantry_globus_local::config::uuid_for("group", "Beamline Users");
    let alice = s.user("alice").await;
    let o = Oci::as_user(&s.url, "alice", &alice);
    let mut vars = vec![];
    for (c, public) in [("priv", false), ("pub", true)] {
        let (m, mbytes) = o.image(&format!("{c}/app"), "v1", format!("{c} layer").as_bytes()).await;
        for t in ["deltag", "deltag2"] {
            assert_eq!(o.put_manifest(&format!("{c}/app"), t, &mbytes, OCI_MANIFEST).await.status(), 201);
        }
        let orphan = o.blob(&format!("{c}/app"), format!("{c} orphan").as_bytes()).await;
        if public {
            let coll = s.state.store().collection_access(c, None).await.unwrap().unwrap().collection;
            s.state.store().update_collection(coll.id, Some(gantry_domain::Visibility::Public), None).await.unwrap();
        }
        vars.push((c, public, m, mbytes, orphan));
    }
    for (user, role) in [("vic", gantry_domain::Role::Viewer), ("carl", gantry_domain::Role::Contributor)] {
        s.user(user).await;
        for c in ["priv", "pub"] {
            gantry::admin::add_member(&s.state, c, user, role).await.unwrap();
        }
    }
    s.user("olga").await;
    // Roles held through Globus groups.
    let group_role = |role| {
        let (st, group) = (s.state.clone(), group.clone());
        async move {
            for c in ["priv", "pub"] {
                let coll = st.store().collection_access(c, None).await.unwrap().unwrap().collection;
                st.store().set_group_member(coll.id, &group, role).await.unwrap();
            }
        }
    };
    let group_user = |name: &'static str| {
        let (st, group) = (s.state.clone(), group.clone());
        async move {
            let u = st.store().user_by_name(name).await.unwrap().unwrap();
            st.store().set_user_groups(u.id, &[group]).await.unwrap();
        }
    };
    // A user provisioned by a sign-in provider, then given an API token.
    let provisioned = |provider: &'static str, name: &'static str| {
        let st = s.state.clone();
        async move {
            let id = gantry_app::rows::NewIdentity {
                provider: provider.into(),
                subject: format!("{name}-subject"),
                username: name.into(),
                ..Default::default()
            };
            let u = st.provisioner.provision(&[id], None).await.unwrap();
            gantry::admin::create_token(&st, &u.username, "t", gantry_domain::TokenScope::Write, None).await.unwrap()
        }
    };
    let basic = |u: &str, t: String| Some(crate::harness::basic(u, &t));
    let auth: Option<String> = match who {
        Who::Anonymous => None,
        Who::Viewer => basic("vic", s.user("vic").await),
        Who::Contributor => basic("carl", s.user("carl").await),
        Who::Owner => basic("alice", alice.clone()),
        Who::Other => basic("olga", s.user("olga").await),
        Who::Admin => basic("root", s.admin("root").await),
        Who::GroupViewer | Who::GroupContributor => {
            let t = s.user("gina").await;
            group_user("gina").await;
            let role =
                if who == Who::GroupViewer { gantry_domain::Role::Viewer } else { gantry_domain::Role::Contributor };
            group_role(role).await;
            basic("gina", t)
        }
        Who::GlobusGroupViewer | Who::GlobusOther => {
            let g = globus.as_ref().unwrap();
            group_role(gantry_domain::Role::Viewer).await;
            let gw = g.client_id(crate::globus::GATEWAY);
            let scope = crate::resource_server::gantry_scope(g);
            let (user, pw) =
                if who == Who::GlobusOther { ("bob@uni.edu", "bob-pass") } else { ("alice@uni.edu", "alice-pass") };
            let t = crate::resource_server::token_for(g, user, pw, &scope, &gw).await;
            Some(format!("Bearer {t}"))
        }
        Who::OidcViewer => {
            let t = provisioned("keycloak", "kim").await;
            for c in ["priv", "pub"] {
                gantry::admin::add_member(&s.state, c, "kim", gantry_domain::Role::Viewer).await.unwrap();
            }
            basic("kim", t)
        }
        Who::OfficeOther => basic("otto", provisioned("office", "otto").await),
    };
    let caller = Oci::new(&s.url, auth);
    for (c, public, m, mbytes, orphan) in &vars {
        for route in routes() {
            let newblob = format!("new blob {c} {:?}", route.path);
            let path = route
                .path
                .replace("{c}", c)
                .replace("{manifest}", m)
                .replace("{layer}", &sha256(format!("{c} layer").as_bytes()))
                .replace("{orphan}", orphan)
                .replace("{newblob}", &sha256(newblob.as_bytes()));
            let mut req = caller.req(route.method.clone(), &path);
            req = match route.body {
                Body::None => req,
                Body::Json(j) => req.header("content-type", "application/json").body(j),
                Body::Manifest => req.header("content-type", OCI_MANIFEST).body(mbytes.clone()),
                Body::Bytes => req.body(newblob.clone().into_bytes()),
            };
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            let ctx = format!("{who:?} {} {path} (public={public}) -> {status} {body}", route.method);
            if allowed(who, *public, route.need) {
                assert!((200..300).contains(&status), "refused: {ctx}");
            } else {
                assert_eq!(status, refusal(who, *public), "wrong refusal: {ctx}");
                assert!(!body.contains(m.as_str()) && !body.contains("layer"), "leak in body: {ctx}");
            }
        }
    }
    // Listings show private things only to those who may read them.
    let cat = caller.req(Method::GET, "/v2/_catalog").send().await.unwrap().text().await.unwrap();
    let search = caller.req(Method::GET, "/api/v1/search").send().await.unwrap().text().await.unwrap();
    let colls = caller.req(Method::GET, "/api/v1/collections").send().await.unwrap().text().await.unwrap();
    let sees_private = matches!(who.base(), Who::Viewer | Who::Contributor | Who::Owner | Who::Admin);
    // (The private collection was deleted at the end of its routes by those allowed to.)
    if !sees_private {
        for text in [&cat, &search, &colls] {
            assert!(!text.contains("priv"), "{who:?} sees the private collection: {text}");
        }
    }
}

async fn matrix_anonymous(b: Backend) {
    matrix_for(b, Who::Anonymous).await
}
async fn matrix_viewer(b: Backend) {
    matrix_for(b, Who::Viewer).await
}
async fn matrix_contributor(b: Backend) {
    matrix_for(b, Who::Contributor).await
}
async fn matrix_owner(b: Backend) {
    matrix_for(b, Who::Owner).await
}
async fn matrix_other_user(b: Backend) {
    matrix_for(b, Who::Other).await
}
async fn matrix_admin(b: Backend) {
    matrix_for(b, Who::Admin).await
}

async fn matrix_group_viewer(b: Backend) {
    matrix_for(b, Who::GroupViewer).await
}
async fn matrix_group_contributor(b: Backend) {
    matrix_for(b, Who::GroupContributor).await
}
async fn matrix_globus_group_viewer(b: Backend) {
    matrix_for(b, Who::GlobusGroupViewer).await
}
async fn matrix_globus_other(b: Backend) {
    matrix_for(b, Who::GlobusOther).await
}
async fn matrix_oidc_viewer(b: Backend) {
    matrix_for(b, Who::OidcViewer).await
}
async fn matrix_office_other(b: Backend) {
    matrix_for(b, Who::OfficeOther).await
}

crate::both_backends!(
    matrix_group_viewer,
    matrix_group_contributor,
    matrix_globus_group_viewer,
    matrix_globus_other,
    matrix_oidc_viewer,
    matrix_office_other,
    matrix_anonymous,
    matrix_viewer,
    matrix_contributor,
    matrix_owner,
    matrix_other_user,
    matrix_admin
);
