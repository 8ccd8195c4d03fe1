//! Authentication policies: which sign-ins of a session satisfy a policy.

use crate::auth::records::Session;
use crate::config::{GlobusConfig, Policy};
use crate::store::now;

/// True when some identity signed in to the session is allowed by the policy's domain
/// constraints and (for high-assurance policies) signed in recently enough.
pub fn satisfied(cfg: &GlobusConfig, p: &Policy, s: &Session) -> bool {
    s.authentications.iter().any(|(id, a)| {
        let Some(i) = cfg.identity_by_id(id) else { return false };
        let d = i.domain();
        let included = p.domain_constraints_include.as_ref().is_none_or(|inc| inc.iter().any(|x| x == d));
        let excluded = p.domain_constraints_exclude.as_ref().is_some_and(|exc| exc.iter().any(|x| x == d));
        let fresh = !p.high_assurance || now() - a.auth_time <= p.authentication_assurance_timeout;
        let mfa = !p.required_mfa || a.mfa;
        included && !excluded && fresh && mfa
    })
}
