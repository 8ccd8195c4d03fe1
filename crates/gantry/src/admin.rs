//! `gantry admin …`: the operator's commands, run on the server's own configuration
//! (safe while the server runs: SQLite in WAL mode, or PostgreSQL). Each goes through
//! the same operation as the API, acting as the operator.

use gantry_app::App;
use gantry_app::collections::NewCollection;
use gantry_domain::{CollectionName, Principal, Role, TokenScope, Visibility};
use gantry_server::Config;

pub async fn open(config: Config) -> anyhow::Result<App> {
    let public = config.public_url(None);
    App::open(config, public).await
}

/// Creates a local user; returns its id.
pub async fn create_user(app: &App, name: &str, admin: bool, password: Option<&str>) -> anyhow::Result<i64> {
    Ok(app.users.create(name, admin, password).await?.id)
}

/// Creates an API token for a user and returns it (the only time it is shown).
pub async fn create_token(
    app: &App,
    user: &str,
    label: &str,
    scope: TokenScope,
    expires_days: Option<u32>,
) -> anyhow::Result<String> {
    Ok(app.tokens.issue_for(user, label, scope, expires_days).await?.secret)
}

pub async fn create_collection(
    app: &App,
    name: &str,
    visibility: Visibility,
    owner: Option<&str>,
    description: &str,
) -> anyhow::Result<()> {
    let owner = match owner {
        Some(o) => Some(app.users.named(o).await?.id),
        None => None,
    };
    let new = NewCollection {
        name: CollectionName::parse(name)?,
        visibility: Some(visibility),
        description: description.to_string(),
        owner,
    };
    app.collections.create(&Principal::operator(), new).await?;
    Ok(())
}

/// Gives a user a role on a collection (a collection keeps at least one owner).
pub async fn add_member(app: &App, collection: &str, user: &str, role: Role) -> anyhow::Result<()> {
    let c = app.collections.operate(collection).await?;
    app.collections.set_user_role(&c, user, role).await?;
    Ok(())
}

/// Gives the members of a Globus group a role on a collection.
pub async fn add_group(app: &App, collection: &str, group: &str, role: Role) -> anyhow::Result<()> {
    let c = app.collections.operate(collection).await?;
    app.collections.set_group_role(&c, group, role).await?;
    Ok(())
}

/// `gantry admin experiments …`.
pub enum Experiments {
    Sync(Option<String>),
    Import(std::path::PathBuf),
    List(bool),
    Link(String, String),
}

pub async fn experiments(app: &App, cmd: Experiments) -> anyhow::Result<()> {
    let f = app.facility()?;
    match cmd {
        Experiments::Sync(Some(u)) => {
            let r = f.sync(&u).await?;
            crate::out!("synced {u}: {} experiments ({} skipped, see the log)", r.experiments, r.skipped);
        }
        Experiments::Sync(None) => {
            let (ok, failed) = f.sync_all().await?;
            crate::out!("synced {ok} facility users, {failed} failed (see the log)");
            if failed > 0 {
                anyhow::bail!("{failed} syncs failed");
            }
        }
        Experiments::Import(file) => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let (e, m) = f.import(&text).await?;
            crate::out!("imported {e} experiments with {m} memberships");
        }
        Experiments::List(json) => {
            let op = gantry_domain::Principal::operator();
            let mut all = vec![];
            for page in 1.. {
                let q = gantry_app::facility::ListQuery { page, page_size: 100, ..Default::default() };
                let p = f.list(&op, &q).await?;
                let n = p.results.len();
                all.extend(p.results);
                if n < 100 {
                    break;
                }
            }
            if json {
                crate::out!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for e in all {
                    crate::out!("{}\t{}\t{}", e.proposal_id, e.beam_line, e.subject);
                }
            }
        }
        Experiments::Link(user, facility_user) => {
            let u = app.users.named(&user).await?;
            f.link(u.id, &facility_user, gantry_app::facility::LinkedBy::Operator).await?;
            let r = f.sync(&facility_user).await?;
            crate::out!("linked {user} to the facility user {facility_user} ({} experiments)", r.experiments);
        }
    }
    Ok(())
}
