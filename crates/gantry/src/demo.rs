//! `gantry demo`: the gateway, the built-in Globus service and a built-in user office in
//! one process, with demo identities (two institutions, one with a high-assurance
//! policy), a group, two endpoints, a public and a private collection holding a small SIF
//! image, and the facility's experiments (see `demo_facility`).

use anyhow::Context;
use gantry_app::App;
use gantry_app::collections::NewCollection;
use gantry_app::config::{ProviderConfig, ProviderKind, ResourceServerConfig, TransferConfig};
use gantry_app::secrets;
use gantry_domain::{CollectionName, ErrorKind, Principal};
use gantry_domain::{ImageRef, Role, TokenScope, Visibility};
use gantry_globus_local::GlobusConfig;
use gantry_globus_local::config::{Client, ClientScope};
use gantry_server::Config;
use std::future::Future;
use std::path::{Path, PathBuf};

/// The demo image, made by `scripts/make-demo-sif.sh` with Debian's siftool.
const DEMO_SIF: &[u8] = include_bytes!("../assets/demo.sif");
const GATEWAY: &str = "Gantry demo gateway";
const REGISTRY: &str = "Gantry registry (demo)";
const NATIVE: &str = "Gantry demo command line";
const ADMIN: &str = "admin";
const ADMIN_PASSWORD: &str = "gantry-demo-admin";
const TRANSFER: &str = "urn:globus:auth:scope:transfer.api.globus.org:all";
const GROUPS: &str = "urn:globus:auth:scope:groups.api.globus.org:view_my_groups_and_memberships";

pub struct Options {
    pub listen: String,
    pub globus_listen: String,
    pub data: PathBuf,
}

/// A secret kept in a file of the demo's data directory (made on first run).
fn kept_secret(path: &Path) -> anyhow::Result<String> {
    if let Ok(s) = std::fs::read_to_string(path) {
        return Ok(s.trim().to_string());
    }
    let s = secrets::random_hex(24);
    secrets::create_private_file(path, s.as_bytes())?;
    Ok(s)
}

pub async fn run(o: Options, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let bind = |a: String| async move {
        tokio::net::TcpListener::bind(&a).await.map_err(|e| anyhow::anyhow!("cannot listen on {a}: {e}"))
    };
    let gl = bind(o.globus_listen.clone()).await?;
    let gx = bind(o.listen.clone()).await?;
    let globus_url = format!("http://{}", gl.local_addr()?);
    let gantry_url = format!("http://{}", gx.local_addr()?);
    let gdir = o.data.join("globus");
    std::fs::create_dir_all(&gdir).with_context(|| format!("cannot create {}", gdir.display()))?;
    let secret = kept_secret(&o.data.join("gateway-client-secret"))?;

    // One shutdown signal stops every server.
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let stop = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let office = crate::demo_facility::start_office(&o.data, stop(rx.clone())).await?;

    let mut gcfg = GlobusConfig::default_for(&gdir);
    gcfg.base_url = Some(globus_url.clone());
    crate::demo_facility::umbrella_claims(&mut gcfg, &office.config);
    gcfg.clients.push(Client::confidential(
        GATEWAY,
        &secret,
        vec![
            format!("{gantry_url}/auth/callback/globus"),
            format!("{gantry_url}/globus/callback"),
            format!("{gantry_url}/auth/callback/umbrella"),
        ],
        vec![ClientScope { suffix: "all".into(), dependent_scopes: vec![TRANSFER.into(), GROUPS.into()] }],
    ));
    gcfg.clients.push(Client::native(NATIVE));
    // Gantry's storage as a Globus collection, managed by Gantry's own client.
    let exports = o.data.join("gantry").join("exports");
    std::fs::create_dir_all(&exports)?;
    let owner = format!("{}@clients.auth.globus.org", gantry_globus_local::config::uuid_for("client", GATEWAY));
    gcfg.endpoints.push(gantry_globus_local::config::Endpoint {
        description: "Gantry's image storage; Gantry gives read access per transfer".into(),
        keywords: vec!["gantry".into()],
        default_directory: "/".into(),
        ..gantry_globus_local::config::Endpoint::at(REGISTRY, &owner, exports)
    });
    crate::demo_facility::data_collection(&mut gcfg, &office.config, &o.data, &owner);
    gcfg.complete()?;
    let client_id = |name: &str| gcfg.clients.iter().find(|c| c.name == name).map(|c| c.id.clone()).unwrap_or_default();
    let (gw_id, native_id) = (client_id(GATEWAY), client_id(NATIVE));

    let (_, globus_fut) = gantry_globus_local::start(gcfg.clone(), gdir.clone(), gl, stop(rx.clone())).await?;
    let globus_task = tokio::spawn(globus_fut);

    let (office_providers, facility) =
        crate::demo_facility::gantry_side(&office, &o.data, &globus_url, (&gw_id, &secret));
    let mut config = Config {
        listen: gantry_url.trim_start_matches("http://").into(),
        data_dir: o.data.join("gantry"),
        log: "info".into(),
        providers: vec![ProviderConfig {
            id: "globus".into(),
            kind: ProviderKind::Globus,
            display_name: "Globus (built-in demo service)".into(),
            issuer: Some(globus_url.clone()),
            client_id: Some(gw_id.clone()),
            client_secret: Some(secret.clone()),
            client_secret_file: None,
            scopes: vec![TRANSFER.into()],
            groups_url: Some(globus_url.clone()),
            url: None,
        }],
        resource_server: Some(ResourceServerConfig {
            native_client_id: Some(native_id),
            ..ResourceServerConfig::new(&globus_url, &gw_id, &secret)
        }),
        transfers: Some(TransferConfig {
            auth_url: globus_url.clone(),
            transfer_url: globus_url.clone(),
            client_id: gw_id.clone(),
            client_secret: Some(secret.clone()),
            client_secret_file: None,
            storage_collection: gcfg
                .endpoints
                .iter()
                .find(|e| e.display_name == REGISTRY)
                .map(|e| e.id.clone())
                .unwrap_or_default(),
            max_concurrent: 4,
            poll_secs: 2,
            extra_scopes: vec![],
            app_url: globus_url.clone(),
        }),
        admin_identities: vec!["globus:alice@uni.edu".into()],
        facility: Some(facility),
        ..Config::default()
    };
    config.providers.extend(office_providers);
    let (running, gantry_fut) = gantry_server::start(config, gx, stop(rx)).await?;
    let gantry_task = tokio::spawn(gantry_fut);
    let group = gcfg.groups.first().context("the demo has a group")?;
    seed(&running.app, &gantry_url, &group.id).await?;
    let facility = crate::demo_facility::banner(&office);
    println!("{}", banner(&gcfg, &gantry_url, &globus_url, &o.data, &group.name, &facility));
    gantry_task.await??;
    globus_task.await??;
    office.task.await??;
    Ok(())
}

/// The demo's users, collections and image (only what is missing).
async fn seed(app: &App, url: &str, group: &str) -> anyhow::Result<()> {
    let admin = match app.users.named(ADMIN).await {
        Ok(u) => u,
        Err(e) if e.kind == ErrorKind::NotFound => app.users.create(ADMIN, true, Some(ADMIN_PASSWORD)).await?,
        Err(e) => return Err(e.into()),
    };
    let operator = Principal::operator();
    for (name, vis, about) in [
        ("demo", Visibility::Public, "Public demo images"),
        ("beamline", Visibility::Private, "Private to the Globus group Beamline Users"),
    ] {
        let new = NewCollection {
            name: CollectionName::parse(name)?,
            visibility: Some(vis),
            description: about.into(),
            owner: Some(admin.id),
        };
        match app.collections.create(&operator, new).await {
            Ok(_) => {}
            Err(e) if e.kind == ErrorKind::Conflict => {}
            Err(e) => return Err(e.into()),
        }
    }
    let beamline = app.collections.operate("beamline").await?;
    app.collections.set_group_role(&beamline, group, Role::Viewer).await?;
    // The image goes in through the API, like any push.
    let token = app.tokens.issue(admin.id, "demo seeding", TokenScope::Write, None).await?;
    let c = gantry_client::Client::new(url, Some(token.secret))?;
    let file = app.config.data_dir.join("demo.sif");
    std::fs::write(&file, DEMO_SIF)?;
    for r in ["demo/hello:latest", "beamline/hello:latest"] {
        let r = ImageRef::parse(r)?;
        if c.get_json(&format!("/api/v1/images/{r}"), "check").await.is_err() {
            gantry_client::push::push(&c, &file, &r).await?;
        }
    }
    app.tokens.revoke(admin.id, token.row.id).await?;
    Ok(())
}

fn banner(g: &GlobusConfig, gantry: &str, globus: &str, data: &Path, group: &str, facility: &str) -> String {
    let cluster = g.endpoints.first().map(|e| e.id.as_str()).unwrap_or("ENDPOINT");
    let mut s = format!(
        "\nGantry demo is running.\n\n  Gantry               {gantry}\n  Globus (built-in)    {globus}\n\n\
         Sign in at {gantry}/login\n  Gantry account       {ADMIN} / {ADMIN_PASSWORD}  (administrator)\n"
    );
    for (n, i) in g.identities.iter().enumerate() {
        let lead = if n == 0 { "  Globus identities    " } else { "                       " };
        let linked = if i.linked.is_empty() { String::new() } else { format!("  (linked: {})", i.linked.join(", ")) };
        s.push_str(&format!("{lead}{} / {}{linked}\n", i.username, i.password));
    }
    for p in g.policies.iter().filter(|p| p.high_assurance) {
        let domains = p.domain_constraints_include.clone().unwrap_or_default().join(", ");
        s.push_str(&format!(
            "  High-assurance policy \"{}\" for {domains} (endpoint access needs a recent sign-in)\n",
            p.display_name
        ));
    }
    s.push_str(
        "  alice@uni.edu is also a Gantry administrator (admin_identities): she manages every collection,\n  \
         bob@uni.edu and carol@lab.gov are ordinary users\n",
    );
    s.push_str("\nGlobus endpoints:\n");
    for e in &g.endpoints {
        s.push_str(&format!("  {}  {}  (owner {})\n", e.id, e.display_name, e.owner));
    }
    s.push_str(&format!(
        "\nCollections: demo (public), beamline (private; members of the Globus group \"{group}\" may view it)\n\
         {facility}\n\
         Command line:\n  gantry login {gantry}            approve a code in the browser\n  \
         gantry login {gantry} --globus   sign in with Globus\n  \
         GANTRY_URL={gantry} gantry pull demo/hello:latest   (public: no sign-in needed)\n  \
         gantry globus connect                             connect Globus (in the browser)\n  \
         gantry transfer demo/hello:latest {cluster}:/~/incoming/ --wait\n\n\
         Globus CLI against the built-in service:\n  export GLOBUS_SDK_SERVICE_URL_AUTH={globus}/ \
         GLOBUS_SDK_SERVICE_URL_TRANSFER={globus}/ GLOBUS_SDK_SERVICE_URL_GROUPS={globus}/\n  \
         globus login --no-local-server\n\nData is kept in {}. Press Ctrl-C to stop.\n",
        data.display()
    ));
    s
}
