//! The OpenAPI document of `/api/v1` and `/download`, generated from the handlers'
//! annotations and the `gantry-api-types` shapes, so it cannot drift from the code. The
//! committed `crates/server/openapi.json` is its snapshot: a test fails when they differ
//! (`GANTRY_UPDATE_OPENAPI=1` rewrites it).

use super::{collections, device, download, experiments, globus, images, tokens, transfers};
use std::sync::LazyLock;
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gantry",
        description = "A science gateway: SIF and OCI images and datasets in collections, sign-in with Globus, \
            OpenID Connect, a user office or local accounts, and transfers to Globus endpoints. Errors are \
            `{\"error\": {\"code\", \"message\"}}`; a Globus Auth requirements error also has the top-level \
            `code: AuthorizationRequired` and `authorization_parameters`. A browser session may call the API \
            with its cookie and the `X-CSRF-Token` header. The OCI distribution API is at `/v2`.",
        license(name = "Apache-2.0")
    ),
    paths(
        super::openapi, super::me,
        tokens::list, tokens::create, tokens::revoke,
        collections::list, collections::create, collections::get, collections::update, collections::delete,
        collections::members, collections::set_member, collections::remove_member,
        collections::groups, collections::set_group, collections::remove_group,
        images::in_collection, images::search, images::repository, images::image, images::delete,
        download::download,
        device::authorize, device::token, device::auth_info,
        globus::status, globus::disconnect, globus::search, globus::endpoint, globus::ls, globus::mkdir,
        transfers::list, transfers::create, transfers::show, transfers::cancel,
        experiments::list, experiments::show, experiments::favorite, experiments::unfavorite,
        experiments::files, experiments::data,
    ),
    modifiers(&Security),
    security(("token" = []), ("basic" = []), ("session" = [])),
    tags(
        (name = "account", description = "The caller and their API tokens"),
        (name = "collections", description = "Collections, members and Globus group roles"),
        (name = "images", description = "Search, repositories, image detail, downloads"),
        (name = "sign-in", description = "Signing in the command line"),
        (name = "globus", description = "The caller's Globus connection and endpoints"),
        (name = "transfers", description = "Sending images and datasets to Globus endpoints"),
        (name = "experiments", description = "The facility's experiments and their data, served in place"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme("token", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        c.add_security_scheme("basic", SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)));
        c.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("gantry_session"))));
    }
}

/// The document, as served (made once).
pub fn document() -> &'static str {
    static DOC: LazyLock<String> =
        LazyLock::new(|| ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serializes") + "\n");
    &DOC
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_snapshot_is_the_generated_document() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        let generated = super::document();
        if std::env::var_os("GANTRY_UPDATE_OPENAPI").is_some() {
            std::fs::write(path, generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap();
        assert!(
            committed == generated,
            "crates/server/openapi.json is not the document the code makes: run \
             GANTRY_UPDATE_OPENAPI=1 cargo test -p gantry-server openapi, and review the difference"
        );
    }
}
