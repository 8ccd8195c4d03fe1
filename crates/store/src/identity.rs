//! Identities at sign-in providers, browser sessions, pending sign-ins, device logins
//! and Globus group roles.

use crate::users::{USER_COLS, User};
use crate::{Store, db_err, get, parse_col};
use gantry_domain::{Result, Role, TokenScope, time::now_unix};
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRow {
    pub user_id: i64,
    pub provider: String,
    pub subject: String,
    pub username: String,
    pub name: String,
    pub email: String,
    pub last_login_at: Option<i64>,
}

/// What a provider says about an identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewIdentity {
    pub provider: String,
    pub subject: String,
    pub username: String,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub user: User,
    pub provider: String,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    /// Third-party tokens, encrypted by the server.
    pub tokens: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFlow {
    pub browser_hash: String,
    pub provider: String,
    pub nonce: String,
    pub verifier: String,
    pub return_to: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceLogin {
    pub device_hash: String,
    pub user_code: String,
    pub client_name: String,
    /// `pending`, `approved`, `denied` or `issued`.
    pub status: String,
    pub user_id: Option<i64>,
    pub expires_at: i64,
    pub polled_at: Option<i64>,
    /// What the token will allow, and for how many days (None: no expiry), as approved.
    pub scope: TokenScope,
    pub token_days: Option<i64>,
}

impl DeviceLogin {
    fn from_row(r: &AnyRow) -> Result<DeviceLogin> {
        Ok(DeviceLogin {
            device_hash: get(r, "device_hash")?,
            user_code: get(r, "user_code")?,
            client_name: get(r, "client_name")?,
            status: get(r, "status")?,
            user_id: get(r, "user_id")?,
            expires_at: get(r, "expires_at")?,
            polled_at: get(r, "polled_at")?,
            scope: parse_col(r, "scope")?,
            token_days: get(r, "token_days")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub group_id: String,
    pub role: Role,
}

const DEVICE_COLS: &str =
    "device_hash, user_code, client_name, status, user_id, expires_at, polled_at, scope, token_days";

impl Store {
    /// The user an identity is linked to.
    pub async fn identity_user(&self, provider: &str, subject: &str) -> Result<Option<User>> {
        let cols = USER_COLS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ");
        let row = sqlx::query(sql!(
            "SELECT {cols} FROM identities i JOIN users u ON u.id = i.user_id WHERE i.provider = $1 AND i.subject = $2"
        ))
        .bind(provider)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(User::from_row).transpose()
    }

    /// Links an identity to a user, or refreshes what is known of it. An identity linked
    /// to another user already stays with that user (the returned user id says which).
    pub async fn link_identity(&self, user_id: i64, id: &NewIdentity) -> Result<i64> {
        let now = now_unix();
        let row = sqlx::query(
            "INSERT INTO identities (user_id, provider, subject, username, name, email, created_at, last_login_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (provider, subject) DO UPDATE SET username = excluded.username, name = excluded.name, \
               email = excluded.email, last_login_at = excluded.last_login_at \
             RETURNING user_id",
        )
        .bind(user_id)
        .bind(&id.provider)
        .bind(&id.subject)
        .bind(&id.username)
        .bind(&id.name)
        .bind(&id.email)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        get(&row, "user_id")
    }

    pub async fn identities_of(&self, user_id: i64) -> Result<Vec<IdentityRow>> {
        let rows = sqlx::query(
            "SELECT user_id, provider, subject, username, name, email, last_login_at FROM identities \
             WHERE user_id = $1 ORDER BY provider, username",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(IdentityRow {
                    user_id: get(r, "user_id")?,
                    provider: get(r, "provider")?,
                    subject: get(r, "subject")?,
                    username: get(r, "username")?,
                    name: get(r, "name")?,
                    email: get(r, "email")?,
                    last_login_at: get(r, "last_login_at")?,
                })
            })
            .collect()
    }

    pub async fn set_admin(&self, user_id: i64, is_admin: bool) -> Result<()> {
        sqlx::query("UPDATE users SET is_admin = $1 WHERE id = $2")
            .bind(is_admin as i64)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// The password hash of a local user.
    pub async fn password_hash(&self, username: &str) -> Result<Option<(User, Option<String>)>> {
        let row = sqlx::query(sql!("SELECT {USER_COLS}, password_hash FROM users WHERE username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        match row {
            Some(r) => Ok(Some((User::from_row(&r)?, get(&r, "password_hash")?))),
            None => Ok(None),
        }
    }

    // ---------- sessions ----------

    pub async fn create_session(
        &self,
        id_hash: &str,
        user_id: i64,
        provider: &str,
        csrf: &str,
        expires_at: i64,
        tokens: Option<&[u8]>,
    ) -> Result<()> {
        let now = now_unix();
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, provider, csrf, created_at, last_seen_at, expires_at, tokens) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7)",
        )
        .bind(id_hash)
        .bind(user_id)
        .bind(provider)
        .bind(csrf)
        .bind(now)
        .bind(expires_at)
        .bind(tokens)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    fn session_from_row(r: &AnyRow) -> Result<SessionRow> {
        Ok(SessionRow {
            user: User::from_row(r)?,
            provider: get(r, "provider")?,
            csrf: get(r, "csrf")?,
            created_at: get(r, "s_created_at")?,
            last_seen_at: get(r, "last_seen_at")?,
            expires_at: get(r, "expires_at")?,
            tokens: get(r, "tokens")?,
        })
    }

    /// A session with its user, whatever its age (the caller checks expiry).
    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>> {
        let cols = USER_COLS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ");
        let row = sqlx::query(sql!(
            "SELECT {cols}, s.provider, s.csrf, s.created_at AS s_created_at, s.last_seen_at, s.expires_at, s.tokens \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1"
        ))
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(Self::session_from_row).transpose()
    }

    pub async fn touch_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(now_unix())
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Ends a session; returns the third-party tokens it held (to revoke them).
    pub async fn delete_session(&self, id_hash: &str) -> Result<Option<Option<Vec<u8>>>> {
        let row = sqlx::query("DELETE FROM sessions WHERE id_hash = $1 RETURNING tokens")
            .bind(id_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| get(&r, "tokens")).transpose()
    }

    /// Drops sessions past their absolute expiry or idle longer than `idle_secs`.
    pub async fn purge_sessions(&self, idle_secs: i64) -> Result<u64> {
        let now = now_unix();
        let r = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(now)
            .bind(now - idle_secs)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected())
    }

    // ---------- sign-ins under way ----------

    pub async fn put_login_flow(&self, state_hash: &str, f: &LoginFlow) -> Result<()> {
        sqlx::query(
            "INSERT INTO login_flows (state_hash, browser_hash, provider, nonce, verifier, return_to, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(state_hash)
        .bind(&f.browser_hash)
        .bind(&f.provider)
        .bind(&f.nonce)
        .bind(&f.verifier)
        .bind(&f.return_to)
        .bind(f.created_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Removes and returns a pending sign-in: a `state` is good for one callback only.
    pub async fn take_login_flow(&self, state_hash: &str) -> Result<Option<LoginFlow>> {
        let row = sqlx::query(
            "DELETE FROM login_flows WHERE state_hash = $1 \
             RETURNING browser_hash, provider, nonce, verifier, return_to, created_at",
        )
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok(LoginFlow {
                browser_hash: get(&r, "browser_hash")?,
                provider: get(&r, "provider")?,
                nonce: get(&r, "nonce")?,
                verifier: get(&r, "verifier")?,
                return_to: get(&r, "return_to")?,
                created_at: get(&r, "created_at")?,
            })
        })
        .transpose()
    }

    pub async fn purge_login_flows(&self, older_than: i64) -> Result<u64> {
        let r = sqlx::query("DELETE FROM login_flows WHERE created_at < $1")
            .bind(older_than)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected())
    }

    // ---------- device logins ----------

    pub async fn create_device_login(
        &self,
        device_hash: &str,
        user_code: &str,
        client_name: &str,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO device_logins (device_hash, user_code, client_name, status, created_at, expires_at) \
             VALUES ($1, $2, $3, 'pending', $4, $5)",
        )
        .bind(device_hash)
        .bind(user_code)
        .bind(client_name)
        .bind(now_unix())
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Device logins not yet expired.
    pub async fn count_pending_device_logins(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM device_logins WHERE expires_at > $1")
            .bind(now_unix())
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        get(&row, "n")
    }

    /// Drops device logins that expired more than an hour ago.
    pub async fn purge_device_logins(&self) -> Result<u64> {
        let r = sqlx::query("DELETE FROM device_logins WHERE expires_at < $1")
            .bind(now_unix() - 3600)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected())
    }

    pub async fn device_login_by_code(&self, user_code: &str) -> Result<Option<DeviceLogin>> {
        let row = sqlx::query(sql!("SELECT {DEVICE_COLS} FROM device_logins WHERE user_code = $1"))
            .bind(user_code)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(DeviceLogin::from_row).transpose()
    }

    /// Approves or denies a pending device login; false if it was not pending (or expired).
    pub async fn decide_device_login(
        &self,
        user_code: &str,
        user_id: i64,
        approve: Option<(TokenScope, Option<i64>)>,
    ) -> Result<bool> {
        let (scope, days) = approve.unwrap_or((TokenScope::Read, None));
        let r = sqlx::query(
            "UPDATE device_logins SET status = $1, user_id = $2, scope = $3, token_days = $4 \
             WHERE user_code = $5 AND status = 'pending' AND expires_at > $6",
        )
        .bind(if approve.is_some() { "approved" } else { "denied" })
        .bind(user_id)
        .bind(scope.as_str())
        .bind(days)
        .bind(user_code)
        .bind(now_unix())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }

    /// Records a poll and returns the login as it was before it.
    pub async fn poll_device_login(&self, device_hash: &str) -> Result<Option<DeviceLogin>> {
        let row = sqlx::query(sql!("SELECT {DEVICE_COLS} FROM device_logins WHERE device_hash = $1"))
            .bind(device_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        if row.is_some() {
            sqlx::query("UPDATE device_logins SET polled_at = $1 WHERE device_hash = $2")
                .bind(now_unix())
                .bind(device_hash)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
        }
        row.as_ref().map(DeviceLogin::from_row).transpose()
    }

    /// Marks an approved login as used; true only for the one caller that did so.
    pub async fn claim_device_login(&self, device_hash: &str) -> Result<bool> {
        let r =
            sqlx::query("UPDATE device_logins SET status = 'issued' WHERE device_hash = $1 AND status = 'approved'")
                .bind(device_hash)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }

    // ---------- groups ----------

    /// Replaces the Globus groups a user is known to belong to.
    pub async fn set_user_groups(&self, user_id: i64, groups: &[String]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("DELETE FROM user_groups WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let now = now_unix();
        for g in groups {
            sqlx::query(
                "INSERT INTO user_groups (user_id, group_id, seen_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id, group_id) DO NOTHING",
            )
            .bind(user_id)
            .bind(g)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    /// Records the names Globus Groups gave for groups (at a sign-in).
    pub async fn set_group_names(&self, named: &[(String, String)]) -> Result<()> {
        let now = now_unix();
        for (id, name) in named {
            sqlx::query(
                "INSERT INTO group_names (group_id, name, seen_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (group_id) DO UPDATE SET name = excluded.name, seen_at = excluded.seen_at",
            )
            .bind(id)
            .bind(name)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        }
        Ok(())
    }

    /// The known names of these groups (those never named are left out).
    pub async fn group_names(&self, ids: &[String]) -> Result<std::collections::HashMap<String, String>> {
        let mut out = std::collections::HashMap::new();
        for id in ids {
            let row = sqlx::query("SELECT name FROM group_names WHERE group_id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
            if let Some(r) = row {
                out.insert(id.clone(), get(&r, "name")?);
            }
        }
        Ok(out)
    }

    pub async fn user_groups(&self, user_id: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT group_id FROM user_groups WHERE user_id = $1 ORDER BY group_id")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| get(r, "group_id")).collect()
    }

    pub async fn set_group_member(&self, collection_id: i64, group_id: &str, role: Role) -> Result<()> {
        sqlx::query(
            "INSERT INTO group_members (collection_id, group_id, role) VALUES ($1, $2, $3) \
             ON CONFLICT (collection_id, group_id) DO UPDATE SET role = excluded.role",
        )
        .bind(collection_id)
        .bind(group_id)
        .bind(role.as_str())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    pub async fn remove_group_member(&self, collection_id: i64, group_id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM group_members WHERE collection_id = $1 AND group_id = $2")
            .bind(collection_id)
            .bind(group_id)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn list_group_members(&self, collection_id: i64) -> Result<Vec<GroupMember>> {
        let rows = sqlx::query("SELECT group_id, role FROM group_members WHERE collection_id = $1 ORDER BY group_id")
            .bind(collection_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| Ok(GroupMember { group_id: get(r, "group_id")?, role: parse_col(r, "role")? })).collect()
    }
}
