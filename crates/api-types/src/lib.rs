//! The shapes of Gantry's REST API (`/api/v1`): what the server answers, what the web UI
//! shows and what the CLI reads, in one place. Times are RFC 3339 strings.

pub mod collections;
pub mod experiments;
pub mod images;
pub mod tokens;
pub mod transfers;

pub use collections::*;
pub use experiments::*;
pub use images::*;
pub use tokens::*;
pub use transfers::*;

use serde::{Deserialize, Serialize};

/// `GET /api/v1/me`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Me {
    pub username: String,
    pub is_admin: bool,
    pub token_scope: gantry_domain::TokenScope,
}

/// The error body of every `/api/v1` answer that is not a success.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}
