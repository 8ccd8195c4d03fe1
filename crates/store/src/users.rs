use crate::{Store, db_err, get, parse_col};
use gantry_domain::{Error, Principal, Result, TokenScope, time::now_unix};
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub is_admin: bool,
    pub created_at: i64,
    /// Disabled by an administrator: nothing signs it in.
    pub disabled: bool,
}

impl User {
    /// The user, unless the account is disabled: every way of signing in asks this.
    pub fn active(self) -> Result<User> {
        if self.disabled {
            return Err(Error::denied(format!(
                "the account {:?} is disabled; ask an administrator of this Gantry to enable it",
                self.username
            )));
        }
        Ok(self)
    }

    /// The user as a caller holding a credential of `scope`.
    pub fn principal(&self, scope: TokenScope) -> Principal {
        Principal { user_id: self.id, username: self.username.clone(), is_admin: self.is_admin, scope, grants: None }
    }

    pub(crate) fn from_row(r: &AnyRow) -> Result<User> {
        Ok(User {
            id: get(r, "id")?,
            username: get(r, "username")?,
            is_admin: get::<i64>(r, "is_admin")? != 0,
            created_at: get(r, "created_at")?,
            disabled: get::<i64>(r, "disabled")? != 0,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub scope: TokenScope,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
}

impl TokenRow {
    fn from_row(r: &AnyRow) -> Result<TokenRow> {
        Ok(TokenRow {
            id: get(r, "id")?,
            user_id: get(r, "user_id")?,
            name: get(r, "name")?,
            scope: parse_col(r, "scope")?,
            created_at: get(r, "created_at")?,
            last_used_at: get(r, "last_used_at")?,
            expires_at: get(r, "expires_at")?,
        })
    }
}

pub(crate) const USER_COLS: &str = "id, username, is_admin, created_at, disabled";
const TOKEN_COLS: &str = "id, user_id, name, scope, created_at, last_used_at, expires_at";

impl Store {
    pub async fn create_user(&self, username: &str, password_hash: Option<&str>, is_admin: bool) -> Result<User> {
        let row = sqlx::query(sql!(
            "INSERT INTO users (username, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4) RETURNING {USER_COLS}"
        ))
        .bind(username)
        .bind(password_hash)
        .bind(is_admin as i64)
        .bind(now_unix())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match db_err(e) {
            e if e.kind == gantry_domain::ErrorKind::Conflict => {
                Error::conflict(format!("user {username:?} already exists"))
            }
            e => e,
        })?;
        User::from_row(&row)
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        let row = sqlx::query(sql!("SELECT {USER_COLS} FROM users WHERE username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(User::from_row).transpose()
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>> {
        let row = sqlx::query(sql!("SELECT {USER_COLS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(User::from_row).transpose()
    }

    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(sql!("SELECT {USER_COLS} FROM users ORDER BY username"))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(User::from_row).collect()
    }

    /// Disables or enables an account; disabling also ends its web sessions. False
    /// when there is no such user.
    pub async fn set_user_disabled(&self, user_id: i64, disabled: bool) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let r = sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(disabled as i64)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }

    /// Administrators whose accounts are enabled.
    pub async fn active_admins(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE is_admin = 1 AND disabled = 0")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        get(&row, "n")
    }

    /// Stores a new API token; only its hash is kept.
    pub async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        scope: TokenScope,
        token_hash: &str,
        expires_at: Option<i64>,
    ) -> Result<TokenRow> {
        let row = sqlx::query(sql!(
            "INSERT INTO api_tokens (user_id, name, token_hash, scope, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {TOKEN_COLS}"
        ))
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(scope.as_str())
        .bind(now_unix())
        .bind(expires_at)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        TokenRow::from_row(&row)
    }

    /// Finds an unexpired token by its hash, with its user.
    pub async fn token_by_hash(&self, token_hash: &str) -> Result<Option<(TokenRow, User)>> {
        let row = sqlx::query(
            "SELECT t.id, t.user_id, t.name, t.scope, t.created_at, t.last_used_at, t.expires_at, \
                    u.username, u.is_admin, u.created_at AS user_created_at, u.disabled \
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        let Some(r) = row else { return Ok(None) };
        let token = TokenRow::from_row(&r)?;
        if token.expires_at.is_some_and(|e| e <= now_unix()) {
            return Ok(None);
        }
        let user = User {
            id: token.user_id,
            username: get(&r, "username")?,
            is_admin: get::<i64>(&r, "is_admin")? != 0,
            created_at: get(&r, "user_created_at")?,
            disabled: get::<i64>(&r, "disabled")? != 0,
        };
        Ok(Some((token, user)))
    }

    pub async fn token_by_id(&self, id: i64) -> Result<Option<TokenRow>> {
        let row = sqlx::query(sql!("SELECT {TOKEN_COLS} FROM api_tokens WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(TokenRow::from_row).transpose()
    }

    /// Records use, at most once a minute per token to keep reads cheap.
    pub async fn touch_token(&self, id: i64) -> Result<()> {
        let now = now_unix();
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(now)
        .bind(id)
        .bind(now - 60)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    pub async fn list_tokens(&self, user_id: i64) -> Result<Vec<TokenRow>> {
        let rows = sqlx::query(sql!("SELECT {TOKEN_COLS} FROM api_tokens WHERE user_id = $1 ORDER BY id"))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(TokenRow::from_row).collect()
    }

    /// Deletes a token of the given user; false when the user has no such token.
    pub async fn revoke_token(&self, user_id: i64, token_id: i64) -> Result<bool> {
        let r = sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
            .bind(token_id)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }
}
