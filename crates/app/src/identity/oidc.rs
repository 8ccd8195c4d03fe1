//! OpenID Connect relying party: discovery, the authorization URL (PKCE S256, `state`,
//! `nonce`), the code exchange and ID token verification (RS256/384/512 with ring).
//! Works against Globus Auth and any other provider that publishes discovery metadata.

use crate::config::{ProviderConfig, ProviderKind};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gantry_domain::{Error, ErrorKind, Result, time::now_unix};
use gantry_globus::TokenResponse;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long discovery metadata and keys are kept before they are fetched again.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// Clock skew tolerated on `exp`, `iat` and `nbf`.
const LEEWAY: i64 = 60;

#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

#[derive(Debug, Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

pub struct Metadata {
    pub discovery: Discovery,
    keys: Vec<Jwk>,
    fetched: Instant,
}

/// What one sign-in sends to the authorization endpoint.
#[derive(Clone, Copy)]
pub struct AuthRequest<'a> {
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    /// The PKCE S256 challenge.
    pub challenge: &'a str,
}

/// One configured OpenID Connect provider.
pub struct Oidc {
    pub cfg: ProviderConfig,
    http: reqwest::Client,
    cache: tokio::sync::Mutex<Option<Arc<Metadata>>>,
}

fn unavailable(provider: &str, what: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Unavailable, format!("sign-in provider {provider}: {what}"))
}

fn refused(what: impl Into<String>) -> Error {
    Error::unauthorized(what)
}

impl Oidc {
    pub fn new(cfg: ProviderConfig, http: reqwest::Client) -> Oidc {
        Oidc { cfg, http, cache: tokio::sync::Mutex::new(None) }
    }

    /// Discovery metadata and keys, fetched once an hour (or sooner, on an unknown key).
    pub async fn metadata(&self, refresh: bool) -> Result<Arc<Metadata>> {
        let mut cache = self.cache.lock().await;
        if let Some(m) = cache.as_ref()
            && !refresh
            && m.fetched.elapsed() < METADATA_TTL
        {
            return Ok(m.clone());
        }
        let id = &self.cfg.id;
        let url = format!("{}/.well-known/openid-configuration", self.cfg.issuer());
        let discovery: Discovery = self.get_json(&url).await?;
        if discovery.issuer.trim_end_matches('/') != self.cfg.issuer() {
            return Err(unavailable(
                id,
                format!("discovery names issuer {:?}, configured is {:?}", discovery.issuer, self.cfg.issuer()),
            ));
        }
        let jwks: JwkSet = self.get_json(&discovery.jwks_uri).await?;
        let m = Arc::new(Metadata { discovery, keys: jwks.keys, fetched: Instant::now() });
        *cache = Some(m.clone());
        Ok(m)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T> {
        let id = &self.cfg.id;
        let r = self.http.get(url).send().await.map_err(|e| unavailable(id, format!("cannot reach {url}: {e}")))?;
        if !r.status().is_success() {
            return Err(unavailable(id, format!("{url} answered {}", r.status())));
        }
        r.json().await.map_err(|e| unavailable(id, format!("{url}: unexpected answer: {e}")))
    }

    pub fn scopes(&self) -> String {
        self.scopes_with(&[])
    }

    /// The scopes to ask for, with `more` besides the configured ones.
    pub fn scopes_with(&self, more: &[String]) -> String {
        let mut s = vec!["openid".to_string(), "profile".into(), "email".into()];
        if self.cfg.kind == ProviderKind::Globus {
            s.push("urn:globus:auth:scope:auth.globus.org:view_identity_set".into());
            s.push("urn:globus:auth:scope:groups.api.globus.org:view_my_groups_and_memberships".into());
        }
        for x in self.cfg.scopes.iter().chain(more) {
            if !s.contains(x) {
                s.push(x.clone());
            }
        }
        s.join(" ")
    }

    /// Where to send the browser. `extra` adds parameters such as Globus's
    /// `session_required_policies`; `more_scopes` adds scopes to the configured ones.
    pub fn authorize_url(
        &self,
        m: &Metadata,
        req: &AuthRequest<'_>,
        extra: &[(&str, &str)],
        more_scopes: &[String],
    ) -> Result<String> {
        let AuthRequest { redirect_uri, state, nonce, challenge } = *req;
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", self.cfg.client_id.as_deref().unwrap_or_default()),
            ("redirect_uri", redirect_uri),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ];
        let scopes = self.scopes_with(more_scopes);
        params.push(("scope", &scopes));
        if self.cfg.kind == ProviderKind::Globus {
            params.push(("access_type", "offline"));
        }
        params.extend_from_slice(extra);
        reqwest::Url::parse_with_params(&m.discovery.authorization_endpoint, &params)
            .map(String::from)
            .map_err(|e| unavailable(&self.cfg.id, format!("bad authorization_endpoint: {e}")))
    }

    /// Trades the authorization code for tokens (client secret by HTTP Basic, if any).
    pub async fn exchange(
        &self,
        m: &Metadata,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<TokenResponse> {
        let client_id = self.cfg.client_id.as_deref().unwrap_or_default();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        let mut req = self.http.post(&m.discovery.token_endpoint);
        match &self.cfg.client_secret {
            Some(secret) => req = req.basic_auth(client_id, Some(secret)),
            None => form.push(("client_id", client_id)),
        }
        let r = req.form(&form).send().await.map_err(|e| unavailable(&self.cfg.id, format!("token endpoint: {e}")))?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let why = body["error_description"].as_str().or(body["error"].as_str()).unwrap_or("no reason given");
            return Err(refused(format!("the provider refused the sign-in code ({status}: {why})")));
        }
        serde_json::from_value(body)
            .map_err(|e| unavailable(&self.cfg.id, format!("the token endpoint answered no token response: {e}")))
    }

    /// Verifies an ID token's signature, issuer, audience, times and nonce; returns its claims.
    pub async fn verify_id_token(&self, token: &str, nonce: &str) -> Result<Map<String, Value>> {
        let mut m = self.metadata(false).await?;
        let parts: Vec<&str> = token.split('.').collect();
        let [h, p, s] = parts[..] else { return Err(refused("the ID token is not a JWT")) };
        let header: Value = decode_part(h)?;
        let alg = header["alg"].as_str().unwrap_or_default();
        let scheme: &'static ring::signature::RsaParameters = match alg {
            "RS256" => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            "RS384" => &ring::signature::RSA_PKCS1_2048_8192_SHA384,
            "RS512" => &ring::signature::RSA_PKCS1_2048_8192_SHA512,
            _ => return Err(refused(format!("ID token algorithm {alg:?} is not accepted"))),
        };
        let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| refused("the ID token signature is malformed"))?;
        let signed = format!("{h}.{p}");
        let kid = header["kid"].as_str();
        let mut ok = verify_with(&m.keys, kid, alg, scheme, signed.as_bytes(), &sig);
        if !ok && kid.is_some_and(|k| !m.keys.iter().any(|j| j.kid.as_deref() == Some(k))) {
            // An unknown key: the provider may have rotated its keys.
            m = self.metadata(true).await?;
            ok = verify_with(&m.keys, kid, alg, scheme, signed.as_bytes(), &sig);
        }
        if !ok {
            return Err(refused("the ID token signature does not verify"));
        }
        let claims: Map<String, Value> = decode_part(p)?;
        check_claims(
            &claims,
            &m.discovery.issuer,
            self.cfg.client_id.as_deref().unwrap_or_default(),
            nonce,
            now_unix(),
        )?;
        Ok(claims)
    }

    /// Revokes a token at the provider, if it offers revocation; errors are only logged.
    pub async fn revoke(&self, token: &str) {
        let Ok(m) = self.metadata(false).await else { return };
        let Some(url) = &m.discovery.revocation_endpoint else { return };
        let client_id = self.cfg.client_id.as_deref().unwrap_or_default();
        let mut req = self.http.post(url);
        let mut form = vec![("token", token)];
        match &self.cfg.client_secret {
            Some(secret) => req = req.basic_auth(client_id, Some(secret)),
            None => form.push(("client_id", client_id)),
        }
        match req.form(&form).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tracing::warn!(provider = self.cfg.id, status = %r.status(), "token revocation refused"),
            Err(e) => tracing::warn!(provider = self.cfg.id, "token revocation failed: {e}"),
        }
    }
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Result<T> {
    let raw = URL_SAFE_NO_PAD.decode(part).map_err(|_| refused("the ID token is malformed"))?;
    serde_json::from_slice(&raw).map_err(|_| refused("the ID token is malformed"))
}

fn verify_with(
    keys: &[Jwk],
    kid: Option<&str>,
    alg: &str,
    scheme: &'static ring::signature::RsaParameters,
    msg: &[u8],
    sig: &[u8],
) -> bool {
    keys.iter()
        .filter(|k| k.kty == "RSA")
        .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
        .filter(|k| k.alg.as_deref().is_none_or(|a| a == alg))
        .any(|k| {
            let (Some(n), Some(e)) = (&k.n, &k.e) else { return false };
            let (Ok(n), Ok(e)) = (URL_SAFE_NO_PAD.decode(n), URL_SAFE_NO_PAD.decode(e)) else { return false };
            ring::signature::RsaPublicKeyComponents { n: &n, e: &e }.verify(scheme, msg, sig).is_ok()
        })
}

/// The claim checks of OpenID Connect Core §3.1.3.7.
pub fn check_claims(c: &Map<String, Value>, issuer: &str, client_id: &str, nonce: &str, now: i64) -> Result<()> {
    if c.get("iss").and_then(Value::as_str).map(|s| s.trim_end_matches('/')) != Some(issuer.trim_end_matches('/')) {
        return Err(refused("the ID token comes from another issuer"));
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(a)) => {
            a.iter().any(|x| x.as_str() == Some(client_id))
                && (a.len() == 1 || c.get("azp").and_then(Value::as_str).is_none_or(|azp| azp == client_id))
        }
        _ => false,
    };
    if !aud_ok {
        return Err(refused("the ID token was issued to another client"));
    }
    let num = |k: &str| c.get(k).and_then(Value::as_i64);
    match num("exp") {
        Some(exp) if exp + LEEWAY > now => {}
        _ => return Err(refused("the ID token has expired")),
    }
    if num("iat").is_some_and(|iat| iat > now + LEEWAY) || num("nbf").is_some_and(|nbf| nbf > now + LEEWAY) {
        return Err(refused("the ID token is not valid yet"));
    }
    if c.get("nonce").and_then(Value::as_str) != Some(nonce) {
        return Err(refused("the ID token's nonce does not match this sign-in"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn claim_checks() {
        let now = 1_000_000;
        let good = json!({"iss": "https://idp.example/", "aud": "gantry", "exp": now + 300, "iat": now, "nonce": "n1"});
        assert!(check_claims(&claims(good.clone()), "https://idp.example", "gantry", "n1", now).is_ok());
        let with = |k: &str, v: Value| {
            let mut c = claims(good.clone());
            c.insert(k.into(), v);
            c
        };
        let bad = [
            (with("iss", json!("https://evil.example")), "another issuer"),
            (with("aud", json!("other")), "another client"),
            (with("aud", json!(["other", "gantry"])), ""),
            (with("exp", json!(now - 61)), "expired"),
            (with("iat", json!(now + 120)), "not valid yet"),
            (with("nonce", json!("n2")), "nonce"),
        ];
        for (c, why) in bad {
            let r = check_claims(&c, "https://idp.example", "gantry", "n1", now);
            if why.is_empty() {
                assert!(r.is_ok(), "an audience list that includes us, without azp, is fine");
            } else {
                assert!(r.unwrap_err().message.contains(why), "{why}");
            }
        }
        let mut c = with("aud", json!(["other", "gantry"]));
        c.insert("azp".into(), json!("other"));
        assert!(check_claims(&c, "https://idp.example", "gantry", "n1", now).is_err(), "azp names another client");
        let mut c = claims(good);
        c.remove("nonce");
        assert!(check_claims(&c, "https://idp.example", "gantry", "n1", now).is_err(), "nonce is required");
    }
}
