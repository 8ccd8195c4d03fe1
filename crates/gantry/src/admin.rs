//! `gantry admin …`: work directly on the configured database and blob store. Safe
//! while the server runs (SQLite in WAL mode, or PostgreSQL).

use anyhow::{Context, bail};
use gantry_domain::{CollectionName, Role, TokenScope, Visibility, time::now_unix};
use gantry_server::{AppState, Config, auth};

pub async fn open(config: Config) -> anyhow::Result<AppState> {
    let public = config.public_url(None);
    AppState::open(config, public).await
}

/// Creates a local user; returns its id.
pub async fn create_user(st: &AppState, name: &str, admin: bool, password: Option<&str>) -> anyhow::Result<i64> {
    validate_username(name)?;
    let hash = password.map(auth::hash_password).transpose()?;
    let u = st.store.create_user(name, hash.as_deref(), admin).await?;
    Ok(u.id)
}

pub fn validate_username(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"._-@".contains(&c))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if !ok {
        bail!(
            "invalid user name {name:?}: use up to 64 letters, digits, '.', '_', '-', '@', starting with a letter or digit"
        );
    }
    Ok(())
}

/// Creates an API token for a user and returns it (the only time it is shown).
pub async fn create_token(
    st: &AppState,
    user: &str,
    label: &str,
    scope: TokenScope,
    expires_days: Option<u64>,
) -> anyhow::Result<String> {
    let u = st.store.user_by_name(user).await?.with_context(|| format!("no user named {user:?}"))?;
    let token = auth::new_api_token();
    let expires = expires_days.map(|d| now_unix() + (d as i64) * 86_400);
    st.store.create_token(u.id, label, scope, &auth::hash_token(&token), expires).await?;
    Ok(token)
}

pub async fn create_collection(
    st: &AppState,
    name: &str,
    visibility: Visibility,
    owner: Option<&str>,
    description: &str,
) -> anyhow::Result<()> {
    let name = CollectionName::parse(name)?;
    let owner_id = match owner {
        Some(o) => Some(st.store.user_by_name(o).await?.with_context(|| format!("no user named {o:?}"))?.id),
        None => None,
    };
    st.store.create_collection(name.as_str(), visibility, description, owner_id).await?;
    Ok(())
}

pub async fn add_member(st: &AppState, collection: &str, user: &str, role: Role) -> anyhow::Result<()> {
    let c = st
        .store
        .collection_access(collection, None)
        .await?
        .with_context(|| format!("no collection named {collection:?}"))?;
    let u = st.store.user_by_name(user).await?.with_context(|| format!("no user named {user:?}"))?;
    st.store.set_member(c.collection.id, u.id, role).await?;
    Ok(())
}

/// Gives the members of a Globus group a role on a collection.
pub async fn add_group(st: &AppState, collection: &str, group: &str, role: Role) -> anyhow::Result<()> {
    let c = st
        .store
        .collection_access(collection, None)
        .await?
        .with_context(|| format!("no collection named {collection:?}"))?;
    let group = group.trim().to_ascii_lowercase();
    if group.is_empty() || !group.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        anyhow::bail!("{group:?} is not a Globus group id (a UUID)");
    }
    st.store.set_group_member(c.collection.id, &group, role).await?;
    Ok(())
}
