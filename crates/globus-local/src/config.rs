//! The service's configuration: identities, identity providers, groups, policies,
//! registered clients, endpoints and bookmarks. With no file a small default is made.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A stable UUID derived from a name (so ids survive restarts and config edits).
pub fn uuid_for(kind: &str, name: &str) -> String {
    let h = Sha256::digest(format!("gantry-globus-local:{kind}:{name}").as_bytes());
    let mut b: [u8; 16] = h[..16].try_into().unwrap();
    b[6] = (b[6] & 0x0f) | 0x50; // version 5 layout
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let x = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &x[0..8], &x[8..12], &x[12..16], &x[16..20], &x[20..32])
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdentityProvider {
    #[serde(default)]
    pub id: String,
    pub domain: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Identity {
    #[serde(default)]
    pub id: String,
    /// `user@domain`; the domain names the identity provider.
    pub username: String,
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub organization: String,
    /// Password for the login form.
    pub password: String,
    /// Usernames of other identities of the same person.
    #[serde(default)]
    pub linked: Vec<String>,
    /// Whether this identity's provider performs MFA at sign-in.
    #[serde(default)]
    pub mfa: bool,
    /// Claims its identity provider asserts besides the standard ones (for instance an
    /// Umbrella `eaahash`), added to its ID tokens; they never replace a standard claim.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub claims: std::collections::BTreeMap<String, String>,
}

impl Identity {
    pub fn domain(&self) -> &str {
        self.username.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupMember {
    pub username: String,
    #[serde(default = "default_member_role")]
    pub role: String,
}

fn default_member_role() -> String {
    "member".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Group {
    #[serde(default)]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub members: Vec<GroupMember>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Policy {
    #[serde(default)]
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub high_assurance: bool,
    /// Seconds a sign-in stays fresh enough for this policy.
    #[serde(default = "default_timeout")]
    pub authentication_assurance_timeout: i64,
    #[serde(default)]
    pub required_mfa: bool,
    pub domain_constraints_include: Option<Vec<String>>,
    pub domain_constraints_exclude: Option<Vec<String>>,
}

fn default_timeout() -> i64 {
    28_800
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientScope {
    /// The scope is `https://auth.globus.org/scopes/<client id>/<suffix>`.
    pub suffix: String,
    #[serde(default)]
    pub dependent_scopes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Client {
    #[serde(default)]
    pub id: String,
    pub name: String,
    /// Present for confidential clients.
    pub secret: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<ClientScope>,
    /// For a client-credentials identity: its username shown by Auth.
    #[serde(default)]
    pub identity_username: Option<String>,
}

impl Client {
    /// A public client (a native app such as the CLI): no secret, any loopback redirect.
    pub fn native(name: &str) -> Client {
        Client {
            id: String::new(),
            name: name.into(),
            secret: None,
            redirect_uris: vec![],
            scopes: vec![],
            identity_username: None,
        }
    }

    /// A confidential client with its redirect URIs and the scopes it offers.
    pub fn confidential(name: &str, secret: &str, redirect_uris: Vec<String>, scopes: Vec<ClientScope>) -> Client {
        Client { secret: Some(secret.into()), redirect_uris, scopes, ..Client::native(name) }
    }

    /// The username of the client's own identity (used by client-credentials tokens;
    /// an endpoint may be owned by it).
    pub fn username(&self) -> String {
        self.identity_username.clone().unwrap_or_else(|| format!("{}@clients.auth.globus.org", self.id))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Endpoint {
    #[serde(default)]
    pub id: String,
    pub display_name: String,
    /// Username of the owner identity.
    pub owner: String,
    /// Directory on disk that is the collection's root (for a guest collection it is
    /// derived from the host's root and `host_path`).
    #[serde(default)]
    pub root: PathBuf,
    /// For a guest collection: the mapped collection it shares (id or display name)...
    #[serde(default)]
    pub host_endpoint: Option<String>,
    /// ...and the directory of it that is the guest collection's root, e.g. `/shared/`.
    #[serde(default)]
    pub host_path: Option<String>,
    #[serde(default = "default_dir")]
    pub default_directory: String,
    #[serde(default)]
    pub high_assurance: bool,
    /// Clients must hold the collection's `data_access` scope (as a dependency of
    /// Transfer's) to use it; otherwise Transfer answers ConsentRequired.
    #[serde(default)]
    pub requires_data_access: bool,
    /// Policy the collection requires (high-assurance collections).
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub keywords: Vec<String>,
}

impl Endpoint {
    /// A mapped collection of `owner` (a username) rooted at `root`, with the defaults
    /// a configuration file would give it.
    pub fn at(display_name: &str, owner: &str, root: PathBuf) -> Endpoint {
        Endpoint {
            id: String::new(),
            display_name: display_name.into(),
            owner: owner.into(),
            root,
            host_endpoint: None,
            host_path: None,
            default_directory: default_dir(),
            high_assurance: false,
            requires_data_access: false,
            policy: None,
            description: String::new(),
            keywords: vec![],
        }
    }
}

fn default_dir() -> String {
    "/~/".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Bookmark {
    #[serde(default)]
    pub id: String,
    pub owner: String,
    pub name: String,
    pub endpoint_id: String,
    pub path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(default)]
pub struct GlobusConfig {
    /// The URL clients reach the service at; defaults to `http://<listen address>`.
    pub base_url: Option<String>,
    pub identity_providers: Vec<IdentityProvider>,
    pub identities: Vec<Identity>,
    pub groups: Vec<Group>,
    pub policies: Vec<Policy>,
    pub clients: Vec<Client>,
    pub endpoints: Vec<Endpoint>,
    pub bookmarks: Vec<Bookmark>,
    /// Lifetime of access tokens, seconds.
    pub access_token_lifetime: Option<i64>,
}

impl GlobusConfig {
    pub fn load(path: &Path) -> anyhow::Result<GlobusConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let mut c: GlobusConfig =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("invalid {}: {e}", path.display()))?;
        c.complete()?;
        Ok(c)
    }

    /// A small sensible default: two institutions, a group, a high-assurance policy,
    /// two endpoints under `data_dir/endpoints`.
    pub fn default_for(data_dir: &Path) -> GlobusConfig {
        let idp = |domain: &str, name: &str| IdentityProvider {
            id: String::new(),
            domain: domain.into(),
            display_name: name.into(),
        };
        let ident = |u: &str, n: &str, org: &str, pw: &str, linked: &[&str]| Identity {
            id: String::new(),
            username: u.into(),
            name: n.into(),
            email: u.into(),
            organization: org.into(),
            password: pw.into(),
            linked: linked.iter().map(|s| s.to_string()).collect(),
            mfa: false,
            claims: Default::default(),
        };
        let mut c = GlobusConfig {
            base_url: None,
            identity_providers: vec![
                idp("uni.edu", "University of Example"),
                idp("lab.gov", "National Example Laboratory"),
            ],
            identities: vec![
                ident("alice@uni.edu", "Alice Archer", "University of Example", "alice-pass", &["alice@lab.gov"]),
                ident(
                    "alice@lab.gov",
                    "Alice Archer",
                    "National Example Laboratory",
                    "alice-lab-pass",
                    &["alice@uni.edu"],
                ),
                ident("bob@uni.edu", "Bob Baker", "University of Example", "bob-pass", &[]),
                ident("carol@lab.gov", "Carol Chen", "National Example Laboratory", "carol-pass", &[]),
            ],
            groups: vec![Group {
                id: String::new(),
                name: "Beamline Users".into(),
                description: "People with beam time".into(),
                members: vec![
                    GroupMember { username: "alice@uni.edu".into(), role: "admin".into() },
                    GroupMember { username: "carol@lab.gov".into(), role: "member".into() },
                ],
            }],
            policies: vec![Policy {
                id: String::new(),
                display_name: "Laboratory high assurance".into(),
                description: "Recent sign-in with a lab.gov identity".into(),
                high_assurance: true,
                authentication_assurance_timeout: 3600,
                required_mfa: false,
                domain_constraints_include: Some(vec!["lab.gov".into()]),
                domain_constraints_exclude: None,
            }],
            clients: vec![],
            endpoints: vec![
                Endpoint {
                    id: String::new(),
                    display_name: "University Cluster".into(),
                    owner: "alice@uni.edu".into(),
                    root: data_dir.join("endpoints/cluster"),
                    default_directory: "/~/".into(),
                    high_assurance: false,
                    requires_data_access: false,
                    policy: None,
                    description: "Scratch space of the university cluster".into(),
                    keywords: vec!["hpc".into(), "scratch".into()],
                    host_endpoint: None,
                    host_path: None,
                },
                Endpoint {
                    id: String::new(),
                    display_name: "Lab Archive".into(),
                    owner: "carol@lab.gov".into(),
                    root: data_dir.join("endpoints/archive"),
                    default_directory: "/~/".into(),
                    high_assurance: true,
                    requires_data_access: false,
                    policy: Some("Laboratory high assurance".into()),
                    description: "High-assurance archive of the laboratory".into(),
                    keywords: vec!["archive".into()],
                    host_endpoint: None,
                    host_path: None,
                },
                Endpoint {
                    id: String::new(),
                    display_name: "Shared Results".into(),
                    owner: "alice@uni.edu".into(),
                    root: PathBuf::new(),
                    default_directory: "/~/".into(),
                    high_assurance: false,
                    requires_data_access: false,
                    policy: None,
                    description: "Guest collection on /shared/ of the University Cluster".into(),
                    keywords: vec!["shared".into()],
                    host_endpoint: Some("University Cluster".into()),
                    host_path: Some("/shared/".into()),
                },
            ],
            bookmarks: vec![],
            access_token_lifetime: None,
        };
        c.complete().expect("the default configuration is consistent");
        c
    }

    /// Fills in derived ids and checks references.
    pub fn complete(&mut self) -> anyhow::Result<()> {
        for p in &mut self.identity_providers {
            if p.id.is_empty() {
                p.id = uuid_for("idp", &p.domain);
            }
        }
        let mut seen = std::collections::HashSet::new();
        for i in &mut self.identities {
            if !i.username.contains('@') {
                anyhow::bail!("identity {:?}: usernames look like user@domain", i.username);
            }
            if !seen.insert(i.username.clone()) {
                anyhow::bail!("identity {:?} is declared twice", i.username);
            }
            if i.id.is_empty() {
                i.id = uuid_for("identity", &i.username);
            }
        }
        let domains: Vec<String> = self.identities.iter().map(|i| i.domain().to_string()).collect();
        for d in domains {
            if !self.identity_providers.iter().any(|p| p.domain == d) {
                self.identity_providers.push(IdentityProvider {
                    id: uuid_for("idp", &d),
                    domain: d.clone(),
                    display_name: d.clone(),
                });
            }
        }
        for i in &self.identities {
            for l in &i.linked {
                if !self.identities.iter().any(|o| &o.username == l) {
                    anyhow::bail!("identity {} links {l}, which is not declared", i.username);
                }
            }
        }
        for g in &mut self.groups {
            if g.id.is_empty() {
                g.id = uuid_for("group", &g.name);
            }
            for m in &g.members {
                if !self.identities.iter().any(|i| i.username == m.username) {
                    anyhow::bail!("group {:?} has member {}, who is not declared", g.name, m.username);
                }
                if !["member", "manager", "admin"].contains(&m.role.as_str()) {
                    anyhow::bail!("group {:?}: role {:?} must be member, manager or admin", g.name, m.role);
                }
            }
        }
        for p in &mut self.policies {
            if p.id.is_empty() {
                p.id = uuid_for("policy", &p.display_name);
            }
        }
        for c in &mut self.clients {
            if c.id.is_empty() {
                c.id = uuid_for("client", &c.name);
            }
        }
        let policies = self.policies.clone();
        for e in &mut self.endpoints {
            if e.id.is_empty() {
                e.id = uuid_for("endpoint", &e.display_name);
            }
            let by_client = self.clients.iter().any(|c| c.username() == e.owner);
            if !by_client && !self.identities.iter().any(|i| i.username == e.owner) {
                anyhow::bail!("endpoint {:?} is owned by {}, who is not declared", e.display_name, e.owner);
            }
            if let Some(p) = &e.policy {
                // A policy may be named by id or display name.
                let found = policies.iter().find(|x| &x.id == p || &x.display_name == p);
                e.policy = Some(
                    found
                        .ok_or_else(|| anyhow::anyhow!("endpoint {:?} names unknown policy {p}", e.display_name))?
                        .id
                        .clone(),
                );
            }
        }
        // Guest collections: the root is a directory of the host's root.
        let hosts: Vec<(String, String, PathBuf, bool)> = self
            .endpoints
            .iter()
            .map(|e| (e.id.clone(), e.display_name.clone(), e.root.clone(), e.host_endpoint.is_some()))
            .collect();
        for e in &mut self.endpoints {
            let Some(h) = e.host_endpoint.clone() else {
                if e.root.as_os_str().is_empty() {
                    anyhow::bail!("endpoint {:?} needs a root directory", e.display_name);
                }
                continue;
            };
            let (hid, _, hroot, hguest) = hosts
                .iter()
                .find(|(id, name, _, _)| id == &h || name == &h)
                .ok_or_else(|| anyhow::anyhow!("guest collection {:?} names unknown host {h}", e.display_name))?;
            if *hguest {
                anyhow::bail!("guest collection {:?}: its host must be a mapped collection", e.display_name);
            }
            let hp = e.host_path.clone().unwrap_or_else(|| "/".into());
            let parts = crate::paths::components(&hp).map_err(|_| {
                anyhow::anyhow!("guest collection {:?}: host_path {hp:?} leaves the host", e.display_name)
            })?;
            e.host_endpoint = Some(hid.clone());
            e.host_path = Some(crate::paths::display(&parts, true).replacen("/~", "", 1));
            e.root = parts.iter().fold(hroot.clone(), |p, c| p.join(c));
        }
        for b in &mut self.bookmarks {
            if b.id.is_empty() {
                b.id = uuid_for("bookmark", &format!("{}/{}", b.owner, b.name));
            }
        }
        Ok(())
    }

    pub fn identity_by_username(&self, u: &str) -> Option<&Identity> {
        self.identities.iter().find(|i| i.username == u)
    }

    pub fn identity_by_id(&self, id: &str) -> Option<&Identity> {
        self.identities.iter().find(|i| i.id == id)
    }

    pub fn idp_for(&self, i: &Identity) -> &IdentityProvider {
        self.identity_providers.iter().find(|p| p.domain == i.domain()).expect("complete() adds every domain")
    }

    /// The identity and all identities linked to it (one person), in declaration
    /// order: the first declared is the account's primary identity.
    pub fn identity_set(&self, i: &Identity) -> Vec<&Identity> {
        let mut out: Vec<&Identity> = vec![
            self.identity_by_id(&i.id)
                .unwrap_or_else(|| self.identity_by_username(&i.username).expect("declared identity")),
        ];
        let mut k = 0;
        while k < out.len() {
            for l in &out[k].linked.clone() {
                if let Some(o) = self.identity_by_username(l)
                    && !out.iter().any(|x| x.id == o.id)
                {
                    out.push(o);
                }
            }
            for o in &self.identities {
                if o.linked.contains(&out[k].username) && !out.iter().any(|x| x.id == o.id) {
                    out.push(o);
                }
            }
            k += 1;
        }
        out.sort_by_key(|x| self.identities.iter().position(|o| o.id == x.id));
        out
    }

    /// The account's primary identity: whichever linked identity signs in, tokens,
    /// `id_token` and userinfo speak for this one (as `globus whoami` shows).
    pub fn primary_of<'a>(&'a self, i: &'a Identity) -> &'a Identity {
        self.identity_set(i).first().copied().unwrap_or(i)
    }

    /// The TOML text of this configuration (what `--config` would read).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_complete_and_stable() {
        let a = GlobusConfig::default_for(Path::new("/d"));
        let b = GlobusConfig::default_for(Path::new("/d"));
        assert_eq!(a, b, "ids are derived, not random");
        let alice = a.identity_by_username("alice@uni.edu").unwrap();
        let set: Vec<&str> = a.identity_set(alice).iter().map(|i| i.username.as_str()).collect();
        assert_eq!(set, ["alice@uni.edu", "alice@lab.gov"]);
        let lab = a.identity_by_username("alice@lab.gov").unwrap();
        let set: Vec<&str> = a.identity_set(lab).iter().map(|i| i.username.as_str()).collect();
        assert_eq!(set, ["alice@uni.edu", "alice@lab.gov"], "the same set, primary first, from either end");
        assert_eq!(a.primary_of(lab).username, "alice@uni.edu");
        assert_eq!(a.primary_of(alice).username, "alice@uni.edu");
        assert_eq!(a.endpoints[1].policy.as_deref(), Some(a.policies[0].id.as_str()));
        assert_eq!(uuid_for("x", "y").len(), 36);
        // The printed TOML reads back to the same configuration.
        let mut again: GlobusConfig = toml::from_str(&a.to_toml()).unwrap();
        again.complete().unwrap();
        assert_eq!(again, a);
    }

    #[test]
    fn inconsistent_configs_are_refused() {
        let mut c = GlobusConfig::default_for(Path::new("/d"));
        c.groups[0].members.push(GroupMember { username: "nobody@x.org".into(), role: "member".into() });
        assert!(c.complete().unwrap_err().to_string().contains("nobody@x.org"));
        let mut c = GlobusConfig::default_for(Path::new("/d"));
        c.identities[0].username = "no-domain".into();
        assert!(c.complete().is_err());
    }
}
