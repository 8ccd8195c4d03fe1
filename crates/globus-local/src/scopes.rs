//! Globus scope strings: `scope[dependency dependency[…]]`, and which resource server
//! each scope belongs to.

use crate::config::GlobusConfig;

pub const AUTH_RS: &str = "auth.globus.org";
pub const TRANSFER_ALL: &str = "urn:globus:auth:scope:transfer.api.globus.org:all";
pub const FLOWS_SCOPE_ID: &str = "eec9b274-0c81-4334-bdc2-54e90e689b9a";
pub const TIMER_SCOPE_ID: &str = "524230d7-ea86-4a52-8312-86065a9e0417";
/// The globus CLI's native client, used as a template for its client instances.
pub const CLI_TEMPLATE_ID: &str = "95fdeba8-fac2-42bd-a357-e068d82ff78e";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub name: String,
    pub deps: Vec<Scope>,
}

/// Parses a space-separated scope string with bracketed dependencies.
pub fn parse(s: &str) -> Result<Vec<Scope>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let out = parse_list(&chars, &mut i, 0)?;
    if i < chars.len() {
        return Err(format!("unexpected ']' in scope string {s:?}"));
    }
    Ok(out)
}

fn parse_list(c: &[char], i: &mut usize, depth: usize) -> Result<Vec<Scope>, String> {
    if depth > 8 {
        return Err("scope dependencies nested too deeply".into());
    }
    let mut out = vec![];
    loop {
        while *i < c.len() && c[*i].is_whitespace() {
            *i += 1;
        }
        if *i >= c.len() || c[*i] == ']' {
            return Ok(out);
        }
        let start = *i;
        while *i < c.len() && !c[*i].is_whitespace() && c[*i] != '[' && c[*i] != ']' {
            *i += 1;
        }
        let name: String = c[start..*i].iter().collect();
        if name.is_empty() {
            return Err("empty scope name".into());
        }
        let mut deps = vec![];
        if *i < c.len() && c[*i] == '[' {
            *i += 1;
            deps = parse_list(c, i, depth + 1)?;
            if *i >= c.len() || c[*i] != ']' {
                return Err("unclosed '[' in scope string".into());
            }
            *i += 1;
        }
        out.push(Scope { name, deps });
    }
}

impl Scope {
    pub fn render(&self) -> String {
        if self.deps.is_empty() {
            self.name.clone()
        } else {
            format!("{}[{}]", self.name, self.deps.iter().map(Scope::render).collect::<Vec<_>>().join(" "))
        }
    }
}

/// The resource server a scope belongs to, if the service knows the scope.
pub fn resource_server(cfg: &GlobusConfig, scope: &str) -> Option<String> {
    match scope {
        "openid" | "profile" | "email" => return Some(AUTH_RS.into()),
        _ => {}
    }
    if let Some(rest) = scope.strip_prefix("urn:globus:auth:scope:") {
        let (rs, name) = rest.split_once(':')?;
        let known = matches!(
            rs,
            "auth.globus.org"
                | "transfer.api.globus.org"
                | "groups.api.globus.org"
                | "search.api.globus.org"
                | "nexus.api.globus.org"
        );
        return (known && !name.is_empty()).then(|| rs.to_string());
    }
    if let Some(rest) = scope.strip_prefix("https://auth.globus.org/scopes/") {
        let (id, suffix) = rest.split_once('/')?;
        if suffix.is_empty() {
            return None;
        }
        if id == FLOWS_SCOPE_ID {
            return Some("flows.globus.org".into());
        }
        if id == TIMER_SCOPE_ID {
            return Some(TIMER_SCOPE_ID.into());
        }
        if cfg.clients.iter().any(|c| c.id == id && c.scopes.iter().any(|s| s.suffix == suffix)) {
            return Some(id.to_string());
        }
        if suffix == "data_access" && cfg.endpoints.iter().any(|e| e.id == id) {
            return Some(id.to_string());
        }
        if cfg.endpoints.iter().any(|e| e.id == id) && suffix == "https" {
            return Some(id.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dependencies() {
        let s = parse("openid  a[b c[d]] e").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[1].name, "a");
        assert_eq!(s[1].deps[1].deps[0].name, "d");
        assert_eq!(s[1].render(), "a[b c[d]]");
        assert!(parse("a[b").is_err());
        assert!(parse("a]").is_err());
        assert_eq!(parse("").unwrap(), vec![]);
    }

    #[test]
    fn resource_servers() {
        let cfg = GlobusConfig::default_for(std::path::Path::new("/d"));
        assert_eq!(resource_server(&cfg, "openid").as_deref(), Some(AUTH_RS));
        assert_eq!(resource_server(&cfg, TRANSFER_ALL).as_deref(), Some("transfer.api.globus.org"));
        assert_eq!(
            resource_server(&cfg, &format!("https://auth.globus.org/scopes/{FLOWS_SCOPE_ID}/all")).as_deref(),
            Some("flows.globus.org")
        );
        let ep = &cfg.endpoints[0].id;
        assert_eq!(
            resource_server(&cfg, &format!("https://auth.globus.org/scopes/{ep}/data_access")).as_deref(),
            Some(ep.as_str())
        );
        assert_eq!(resource_server(&cfg, "urn:globus:auth:scope:evil.example.org:all"), None);
        assert_eq!(resource_server(&cfg, "https://auth.globus.org/scopes/0000/x"), None);
    }
}
