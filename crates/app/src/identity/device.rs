//! Signing in the command line without pasting tokens, in the manner of OAuth's device
//! authorization grant: the CLI gets a device code and a short user code, the user
//! approves the user code in a signed-in browser, and the CLI, polling, receives an API
//! token once.

use crate::config::Limits;
use crate::secrets::{hash_token, random_token};
use crate::tokens::Tokens;
use gantry_api_types::{DeviceAuthorization, DeviceToken};
use gantry_domain::{Error, ErrorKind, Result, TokenScope, time::now_unix};
use gantry_store::Store;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// How long a device login may wait for approval, and how often the CLI may ask.
pub const DEVICE_SECS: i64 = 600;
pub const INTERVAL_SECS: i64 = 2;
/// User codes avoid vowels and look-alike characters.
const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Why a poll got no token (the OAuth device-grant error codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    AuthorizationPending,
    SlowDown,
    AccessDenied,
    ExpiredToken,
    InvalidGrant,
}

impl Pending {
    pub fn code(self) -> &'static str {
        match self {
            Pending::AuthorizationPending => "authorization_pending",
            Pending::SlowDown => "slow_down",
            Pending::AccessDenied => "access_denied",
            Pending::ExpiredToken => "expired_token",
            Pending::InvalidGrant => "invalid_grant",
        }
    }
}

/// What a poll finds.
#[derive(Debug, Clone, PartialEq)]
pub enum Poll {
    Token(DeviceToken),
    Pending(Pending, &'static str),
}

#[derive(Clone)]
pub struct Devices {
    store: Store,
    tokens: Tokens,
    public_url: Arc<str>,
    limits: Limits,
    /// Device sign-ins started per address in the current ten-minute window.
    started: Arc<std::sync::Mutex<(std::time::Instant, HashMap<IpAddr, u32>)>>,
}

fn user_code() -> String {
    let mut raw = [0u8; 8];
    getrandom::fill(&mut raw).expect("random source");
    let c: String = raw.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect();
    format!("{}-{}", &c[..4], &c[4..])
}

/// Upper-cases and re-inserts the dash, so `bcdf ghjk` and `BCDF-GHJK` are the same code.
pub fn normalize(code: &str) -> String {
    let c: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
    if c.len() == 8 { format!("{}-{}", &c[..4], &c[4..]) } else { c }
}

impl Devices {
    pub fn new(store: Store, tokens: Tokens, public_url: Arc<str>, limits: Limits) -> Devices {
        let started = Arc::new(std::sync::Mutex::new((std::time::Instant::now(), HashMap::new())));
        Devices { store, tokens, public_url, limits, started }
    }

    /// Counts a start from `from`; false when that address has started too many lately.
    fn may_start(&self, from: Option<IpAddr>) -> bool {
        let Some(a) = from else { return true };
        let mut g = self.started.lock().unwrap();
        if g.0.elapsed() >= std::time::Duration::from_secs(600) {
            *g = (std::time::Instant::now(), HashMap::new());
        }
        let n = g.1.entry(a).or_insert(0);
        *n += 1;
        *n <= self.limits.device_logins_per_address
    }

    /// A new device login for a client that calls itself `client_name`, asked for from
    /// `from`. Bounded per address and in all.
    pub async fn authorize(&self, client_name: &str, from: Option<IpAddr>) -> Result<DeviceAuthorization> {
        let name: String = client_name.chars().take(100).collect();
        if !self.may_start(from) {
            let msg = "too many device sign-ins from this address; try again in a few minutes";
            return Err(Error::new(ErrorKind::TooManyRequests, msg));
        }
        self.store.purge_device_logins().await?;
        if self.store.count_pending_device_logins().await? >= self.limits.pending_device_logins as i64 {
            let msg = "too many device sign-ins are waiting for approval; try again in a few minutes";
            return Err(Error::new(ErrorKind::TooManyRequests, msg));
        }
        let device_code = random_token(32);
        let code = user_code();
        self.store.create_device_login(&hash_token(&device_code), &code, &name, now_unix() + DEVICE_SECS).await?;
        let uri = format!("{}/device", self.public_url);
        Ok(DeviceAuthorization {
            device_code,
            verification_uri_complete: format!("{uri}?code={code}"),
            user_code: code,
            verification_uri: uri,
            expires_in: DEVICE_SECS,
            interval: INTERVAL_SECS,
        })
    }

    /// The CLI asks whether its login was approved; exactly one poll gets the token.
    pub async fn poll(&self, device_code: &str) -> Result<Poll> {
        let hash = hash_token(device_code);
        let Some(d) = self.store.poll_device_login(&hash).await? else {
            return Ok(Poll::Pending(Pending::InvalidGrant, "unknown device code"));
        };
        let now = now_unix();
        if d.expires_at <= now {
            return Ok(Poll::Pending(Pending::ExpiredToken, "the code expired; run gantry login again"));
        }
        let used = Poll::Pending(Pending::InvalidGrant, "this device code was used already");
        match d.status.as_str() {
            "denied" => return Ok(Poll::Pending(Pending::AccessDenied, "the sign-in was denied in the browser")),
            "issued" => return Ok(used),
            "pending" if d.polled_at.is_some_and(|p| now - p < INTERVAL_SECS - 1) => {
                return Ok(Poll::Pending(Pending::SlowDown, "poll less often"));
            }
            "pending" => {
                return Ok(Poll::Pending(Pending::AuthorizationPending, "waiting for approval in the browser"));
            }
            _ => {}
        }
        if !self.store.claim_device_login(&hash).await? {
            return Ok(used);
        }
        let user_id = d.user_id.ok_or_else(|| Error::internal("approved device login without a user"))?;
        let user =
            self.store.user_by_id(user_id).await?.ok_or_else(|| Error::unauthorized("the user no longer exists"))?;
        let name = if d.client_name.is_empty() { "gantry login" } else { d.client_name.as_str() };
        let days = d.token_days.map(|n| n.clamp(1, 3650) as u32);
        let t = self.tokens.issue(user.id, name, d.scope, days).await?;
        Ok(Poll::Token(DeviceToken { token: t.secret, username: user.username, scope: d.scope }))
    }

    /// The name of the client waiting under `user_code` (empty if unknown).
    pub async fn client_name(&self, user_code: &str) -> Result<String> {
        Ok(self.store.device_login_by_code(&normalize(user_code)).await?.map(|d| d.client_name).unwrap_or_default())
    }

    /// The signed-in user approves or denies a code; false if the code is unknown,
    /// expired or used.
    /// Approving says what the token may do and for how many days (None: no expiry).
    pub async fn decide(
        &self,
        user_code: &str,
        user_id: i64,
        approve: Option<(TokenScope, Option<u32>)>,
    ) -> Result<bool> {
        if let Some((_, Some(d))) = approve
            && !(1..=3650).contains(&d)
        {
            return Err(Error::invalid("a token lives 1 to 3650 days"));
        }
        let approve = approve.map(|(s, d)| (s, d.map(i64::from)));
        self.store.decide_device_login(&normalize(user_code), user_id, approve).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_codes() {
        let c = super::user_code();
        assert_eq!(c.len(), 9);
        assert!(c.chars().all(|x| x == '-' || super::ALPHABET.contains(&(x as u8))), "{c}");
        assert_eq!(super::normalize("bcdf ghjk"), "BCDF-GHJK");
        assert_eq!(super::normalize("BCDF-GHJK"), "BCDF-GHJK");
    }
}
