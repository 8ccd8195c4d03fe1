//! The demo's facility: the built-in user office on loopback (its users, two
//! experiments with a session of files each, in `DATA/facility`), Gantry's `[facility]`
//! towards it, sign-in with the office, and Umbrella played by the built-in Globus
//! service (its identities carry the office's EAA hashes).

use gantry_app::config::{FacilityConfig, ProviderConfig, ProviderKind};
use gantry_globus_local::GlobusConfig;
use gantry_user_office_local::OfficeConfig;
use std::future::Future;
use std::path::Path;

/// The office, running; what Gantry is told of it.
pub struct DemoOffice {
    pub config: OfficeConfig,
    pub url: String,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Starts the office on a free loopback port, with its data written under `data`.
pub async fn start_office(data: &Path, stop: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<DemoOffice> {
    let dir = data.join("user-office");
    let (config, _) = gantry_user_office_local::config::load(&dir, None)?;
    config.write_files(&datasets_root(data))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (addr, _, fut) = gantry_user_office_local::start(config.clone(), listener, stop)?;
    Ok(DemoOffice { config, url: format!("http://{addr}"), task: tokio::spawn(fut) })
}

fn datasets_root(data: &Path) -> std::path::PathBuf {
    let d = data.join("facility");
    std::fs::canonicalize(&d).unwrap_or(d)
}

/// The built-in Globus identities that stand for Umbrella identities: the demo's
/// alice@uni.edu and bob@uni.edu carry the EAA hashes the office knows for alice and bob.
pub fn umbrella_claims(g: &mut GlobusConfig, office: &OfficeConfig) {
    for i in &mut g.identities {
        let local = i.username.split('@').next().unwrap_or_default();
        if let Some(hash) = office.users.iter().find(|u| u.username == local).and_then(|u| u.eaa_hash.clone()) {
            i.claims.insert("eaahash".into(), hash);
        }
    }
}

/// The name of the Globus collection of the facility's raw data.
fn collection_name(office: &OfficeConfig) -> String {
    format!("{} raw data", office.name)
}

/// The facility's raw data as a collection of the built-in Globus service, managed by
/// Gantry's client (`owner`), so that sessions can be sent with Globus.
pub fn data_collection(g: &mut GlobusConfig, office: &OfficeConfig, data: &Path, owner: &str) {
    g.endpoints.push(gantry_globus_local::config::Endpoint {
        description: "The facility's experiment data; Gantry gives members read access per transfer".into(),
        keywords: vec!["facility".into()],
        default_directory: "/".into(),
        ..gantry_globus_local::config::Endpoint::at(&collection_name(office), owner, datasets_root(data))
    });
}

/// The sign-in providers (the office, Umbrella) and `[facility]` Gantry gets.
pub fn gantry_side(
    office: &DemoOffice,
    data: &Path,
    globus_url: &str,
    client: (&str, &str),
) -> (Vec<ProviderConfig>, FacilityConfig) {
    let u = &office.url;
    let providers = vec![
        ProviderConfig::user_office(
            "office",
            &format!("{} user office", office.config.name),
            &format!("{u}/api/login/"),
        ),
        ProviderConfig {
            id: "umbrella".into(),
            kind: ProviderKind::Oidc,
            display_name: "Umbrella (played by the built-in Globus service)".into(),
            issuer: Some(globus_url.into()),
            client_id: Some(client.0.into()),
            client_secret: Some(client.1.into()),
            client_secret_file: None,
            scopes: vec![],
            groups_url: None,
            url: None,
        },
    ];
    std::fs::create_dir_all(data.join("facility").join("output")).ok();
    let facility = FacilityConfig {
        name: office.config.name.clone(),
        experiments_url: format!("{u}/api/experiments/"),
        hash_url: Some(format!("{u}/api/umbrella/")),
        is_authorized_url: Some(format!("{u}/api/authorized/")),
        default_authorization: false,
        username: office.config.client_username.clone(),
        password: Some(office.config.client_password.clone()),
        password_file: None,
        datasets_root: datasets_root(data),
        output_root: Some(data.join("facility").join("output")),
        sync_secs: 300,
        globus_collection: Some(gantry_globus_local::config::uuid_for("endpoint", &collection_name(&office.config))),
        office_provider: Some("office".into()),
        umbrella_provider: Some("umbrella".into()),
        eaa_hash_claim: "eaahash".into(),
        timeout_secs: 10,
        max_pages: 1000,
    };
    (providers, facility)
}

/// The banner's lines about the facility.
pub fn banner(office: &DemoOffice) -> String {
    let mut s = format!("\nFacility: {} (built-in user office at {})\n", office.config.name, office.url);
    for u in &office.config.users {
        let of: Vec<&str> = office
            .config
            .experiments
            .iter()
            .filter(|e| e.members.contains(&u.username))
            .map(|e| e.proposal_id.as_str())
            .collect();
        s.push_str(&format!(
            "  user office sign-in  {} / {}  (experiments {})\n",
            u.username,
            u.password,
            of.join(", ")
        ));
    }
    s.push_str("  Umbrella sign-in     alice@uni.edu / alice-pass at the built-in service (the office's alice)\n");
    s.push_str("  Command line         gantry experiments; gantry experiment pull 20260001 1\n");
    s
}
