//! Globus Auth: OIDC discovery and JWKS, client templating, the authorize flow with a
//! login form and a consent page, the token endpoint (authorization code with PKCE or
//! client secret, refresh token, client credentials, dependent token), validate,
//! introspect, revoke, userinfo, identities and policies.

pub mod consents;
pub(crate) mod grants;
mod info;
pub(crate) mod pages;
mod tokens;

pub mod records;

use crate::service::Service;
use axum::Router;
use axum::routing::{delete, get, post};
use info::*;
use pages::*;
use tokens::*;

pub use gantry_globus::urlencode;

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwk.json", get(jwks))
        .route("/v2/api/clients", post(create_client))
        .route("/v2/api/clients/{id}", delete(delete_client))
        .route("/v2/oauth2/authorize", get(authorize))
        .route("/v2/web/login", post(login))
        .route("/v2/web/consent", post(consent))
        .route("/v2/web/auth-code", get(auth_code_page))
        .route("/v2/oauth2/token", post(token))
        .route("/v2/oauth2/token/validate", post(validate))
        .route("/v2/oauth2/token/introspect", post(introspect))
        .route("/v2/oauth2/token/revoke", post(revoke))
        .route("/v2/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/v2/api/identities", get(identities))
        .route("/v2/api/identity_providers", get(identity_providers))
        .route("/v2/api/identities/{id}/consents", get(consents::list))
        .route("/v2/api/policies", get(list_policies))
        .route("/v2/api/policies/{id}", get(get_policy))
}
