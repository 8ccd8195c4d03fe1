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
