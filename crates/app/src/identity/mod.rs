//! Who is calling: credentials (API tokens, registry tokens, Globus tokens), passwords,
//! browser sessions and their CSRF tokens, sign-in (passwords, OpenID Connect, a user
//! office) through one authorization-code flow, provisioning users from confirmed
//! identities, device sign-in for the CLI, and the sealer for third-party tokens.

pub mod credentials;
pub mod device;
pub mod flow;
pub mod limiter;
pub mod oidc;
pub mod passwords;
pub mod provision;
pub mod resource_server;
pub mod sealer;
pub mod sessions;
pub mod signin;

pub use credentials::{Authenticator, Credentials};
pub use sessions::{Sessions, WebSession};
