//! Browser sessions and what goes with them: cookies, CSRF tokens, third-party tokens
//! encrypted at rest, and provisioning users from the identities a provider confirms.
//!
//! A session cookie carries 32 random bytes; the database keeps only their sha256. A
//! session ends after `session_idle_secs` without requests and `session_max_secs` after
//! sign-in. Every state-changing form carries the session's CSRF token; before sign-in,
//! forms carry an HMAC of the browser cookie instead.

use crate::auth::{hash_token, random_token};
use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gantry_domain::{Error, Principal, Result, TokenScope, time::now_unix};
use gantry_store::{NewIdentity, SessionRow, User};
use hmac::{Hmac, Mac};
use ring::aead;
use sha2::Sha256;

pub const SESSION_COOKIE: &str = "gantry_session";
/// Binds sign-ins under way and pre-sign-in forms to one browser.
pub const BROWSER_COOKIE: &str = "gantry_browser";
/// Header carrying the CSRF token when the API is called with a session cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Sign-ins under way expire after this long.
pub const LOGIN_FLOW_SECS: i64 = 600;

/// The value of cookie `name`, if the request has it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Compares two secrets in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    let diff = a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    a.len() == b.len() && std::hint::black_box(diff) == 0
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub id_hash: String,
    pub row: SessionRow,
}

impl WebSession {
    pub fn principal(&self) -> Principal {
        let u = &self.row.user;
        Principal { user_id: u.id, username: u.username.clone(), is_admin: u.is_admin, scope: TokenScope::Write }
    }
}

/// Failed password sign-ins per account: after `MAX_FAILURES` within `FAILURE_WINDOW`,
/// the account's password sign-in waits until the window has passed (in memory, so per
/// server process; bounded).
pub struct LoginLimiter {
    failures: std::sync::Mutex<std::collections::HashMap<String, (u32, std::time::Instant)>>,
}

pub const MAX_FAILURES: u32 = 5;
pub const FAILURE_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter { failures: std::sync::Mutex::new(std::collections::HashMap::new()) }
    }
}

impl LoginLimiter {
    /// Seconds to wait before `account` may try again, if it is locked.
    pub fn locked(&self, account: &str) -> Option<u64> {
        let m = self.failures.lock().unwrap();
        let (n, since) = m.get(&account.to_lowercase())?;
        let left = FAILURE_WINDOW.saturating_sub(since.elapsed());
        (*n >= MAX_FAILURES && !left.is_zero()).then(|| left.as_secs().max(1))
    }

    pub fn failed(&self, account: &str) {
        let mut m = self.failures.lock().unwrap();
        if m.len() > 10_000 {
            m.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
        }
        let e = m.entry(account.to_lowercase()).or_insert((0, std::time::Instant::now()));
        if e.1.elapsed() >= FAILURE_WINDOW {
            *e = (0, std::time::Instant::now());
        }
        e.0 += 1;
    }

    pub fn succeeded(&self, account: &str) {
        self.failures.lock().unwrap().remove(&account.to_lowercase());
    }
}

/// The key that encrypts third-party tokens: read from its file, made there on first use.
pub fn load_token_key(path: &std::path::Path) -> anyhow::Result<aead::LessSafeKey> {
    let hex_key = match std::fs::read_to_string(path) {
        Ok(s) => s.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let k = crate::auth::random_hex(32);
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| anyhow::anyhow!("cannot create token key {}: {e}", path.display()))?;
            f.write_all(k.as_bytes())?;
            f.sync_all()?;
            k
        }
        Err(e) => anyhow::bail!("cannot read token key {}: {e}", path.display()),
    };
    let raw = hex::decode(&hex_key)
        .ok()
        .filter(|k| k.len() == 32)
        .ok_or_else(|| anyhow::anyhow!("token key {} must hold 64 hex digits", path.display()))?;
    let key = aead::UnboundKey::new(&aead::CHACHA20_POLY1305, &raw).map_err(|_| anyhow::anyhow!("bad token key"))?;
    Ok(aead::LessSafeKey::new(key))
}

impl AppState {
    fn secure(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// Cookie names get the `__Host-` prefix over HTTPS (Secure, whole host, no Domain).
    pub fn cookie_name(&self, base: &str) -> String {
        if self.secure() { format!("__Host-{base}") } else { base.to_string() }
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax (the provider's redirect back is a
    /// top-level GET), Secure over HTTPS. `max_age` 0 deletes the cookie.
    pub fn set_cookie(&self, base: &str, value: &str, max_age: i64) -> HeaderValue {
        let secure = if self.secure() { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
            self.cookie_name(base)
        ))
        .expect("cookie value is URL-safe")
    }

    /// The browser cookie, and whether it has to be set (it was missing).
    pub fn browser_id(&self, headers: &HeaderMap) -> (String, bool) {
        match cookie(headers, &self.cookie_name(BROWSER_COOKIE)).filter(|v| v.len() >= 32) {
            Some(v) => (v, false),
            None => (random_token(32), true),
        }
    }

    /// The CSRF token of forms shown before sign-in: an HMAC of the browser cookie.
    pub fn login_csrf(&self, browser: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.web_key).expect("hmac key");
        mac.update(b"login-csrf\0");
        mac.update(browser.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    pub fn check_login_csrf(&self, headers: &HeaderMap, token: &str) -> Result<()> {
        let browser = cookie(headers, &self.cookie_name(BROWSER_COOKIE)).unwrap_or_default();
        if browser.is_empty() || !same_secret(&self.login_csrf(&browser), token) {
            return Err(Error::denied("the form has expired or did not come from this site; reload it and try again"));
        }
        Ok(())
    }

    /// The session of this request, if it has a live one. Expired sessions are removed.
    pub async fn web_session(&self, headers: &HeaderMap) -> Result<Option<WebSession>> {
        let Some(id) = cookie(headers, &self.cookie_name(SESSION_COOKIE)) else { return Ok(None) };
        let id_hash = hash_token(&id);
        let Some(row) = self.store.session(&id_hash).await? else { return Ok(None) };
        let now = now_unix();
        if row.expires_at <= now || row.last_seen_at + self.config.session_idle_secs as i64 <= now {
            self.store.delete_session(&id_hash).await?;
            return Ok(None);
        }
        if now - row.last_seen_at >= 60 {
            self.store.touch_session(&id_hash).await?;
        }
        Ok(Some(WebSession { id_hash, row }))
    }

    /// Starts a session for `user`; returns the `Set-Cookie` value.
    pub async fn start_session(
        &self,
        user: &User,
        provider: &str,
        tokens: Option<&serde_json::Value>,
    ) -> Result<HeaderValue> {
        self.store.purge_sessions(self.config.session_idle_secs as i64).await?;
        let id = random_token(32);
        let sealed = tokens.map(|t| self.seal(user.id, t)).transpose()?;
        let expires = now_unix() + self.config.session_max_secs as i64;
        self.store
            .create_session(&hash_token(&id), user.id, provider, &random_token(24), expires, sealed.as_deref())
            .await?;
        Ok(self.set_cookie(SESSION_COOKIE, &id, self.config.session_max_secs as i64))
    }

    /// Encrypts third-party tokens for storage, bound to their user.
    pub fn seal(&self, user_id: i64, tokens: &serde_json::Value) -> Result<Vec<u8>> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| Error::internal(format!("random source: {e}")))?;
        let mut buf = serde_json::to_vec(tokens).map_err(|e| Error::internal(e.to_string()))?;
        let aad = format!("gantry-tokens:{user_id}");
        self.token_key
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad.as_bytes()),
                &mut buf,
            )
            .map_err(|_| Error::internal("cannot encrypt tokens"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    pub fn open_sealed(&self, user_id: i64, sealed: &[u8]) -> Result<serde_json::Value> {
        if sealed.len() < 12 + 16 {
            return Err(Error::internal("stored tokens are damaged"));
        }
        let (nonce, rest) = sealed.split_at(12);
        let mut buf = rest.to_vec();
        let aad = format!("gantry-tokens:{user_id}");
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::internal("bad nonce"))?;
        let plain = self
            .token_key
            .open_in_place(nonce, aead::Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| Error::internal("stored tokens cannot be decrypted (was the token key replaced?)"))?;
        serde_json::from_slice(plain).map_err(|e| Error::internal(e.to_string()))
    }

    /// The Gantry user behind identities a provider has just confirmed (the first is the
    /// one that signed in; the others are linked to it, as Globus's identity sets are).
    /// Unknown identities provision a new user; an identity never attaches itself to an
    /// existing local account by a matching name.
    pub async fn provision(&self, ids: &[NewIdentity], groups: Option<&[String]>) -> Result<User> {
        let first = ids.first().ok_or_else(|| Error::invalid("no identity"))?;
        let mut user = None;
        for id in ids {
            if let Some(u) = self.store.identity_user(&id.provider, &id.subject).await? {
                user = Some(u);
                break;
            }
        }
        let mut user = match user {
            Some(u) => u,
            None => self.create_unique_user(&first.username).await?,
        };
        for id in ids {
            self.store.link_identity(user.id, id).await?;
        }
        if let Some(groups) = groups {
            self.store.set_user_groups(user.id, groups).await?;
        }
        let named =
            ids.iter().any(|i| self.config.admin_identities.contains(&format!("{}:{}", i.provider, i.username)));
        let in_group = groups.is_some_and(|g| g.iter().any(|g| self.config.admin_groups.contains(g)));
        if (named || in_group) && !user.is_admin {
            self.store.set_admin(user.id, true).await?;
            user.is_admin = true;
        }
        Ok(user)
    }

    async fn create_unique_user(&self, wanted: &str) -> Result<User> {
        let mut base: String = wanted
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "._-@".contains(c) { c } else { '-' })
            .take(56)
            .collect();
        if !base.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            base.insert(0, 'u');
        }
        for n in 1..=20 {
            let name = if n == 1 { base.clone() } else { format!("{base}-{n}") };
            match self.store.create_user(&name, None, false).await {
                Ok(u) => return Ok(u),
                Err(e) if e.kind == gantry_domain::ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        self.store.create_user(&format!("{base}-{}", &random_token(6)), None, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; gantry_session_x=2; gantry_session=3"));
        h.append(header::COOKIE, HeaderValue::from_static("b=4"));
        assert_eq!(cookie(&h, "gantry_session").as_deref(), Some("3"));
        assert_eq!(cookie(&h, "b").as_deref(), Some("4"));
        assert_eq!(cookie(&h, "c"), None);
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("abc", "ab"));
    }

    #[test]
    fn token_key_is_made_once_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("token.key");
        let k1 = load_token_key(&p).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        let first = std::fs::read_to_string(&p).unwrap();
        let _k2 = load_token_key(&p).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), first, "kept, not replaced");
        let mut buf = b"secret".to_vec();
        let nonce = [7u8; 12];
        k1.seal_in_place_append_tag(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::empty(), &mut buf).unwrap();
        assert_ne!(&buf[..6], b"secret");
        std::fs::write(&p, "zz").unwrap();
        assert!(load_token_key(&p).is_err());
    }
}
