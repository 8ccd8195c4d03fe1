//! The client commands of the CLI.

use anyhow::Context;
use gantry_api_types::{CollectionList, ImageDetail, ImageKind, ImageList, Me, RepositoryInfo};
use gantry_client::{Client, config, human_size, login, pull, push};
use gantry_domain::ImageRef;
use reqwest::Method;
use serde_json::Value;
use std::io::{BufRead, Write};
use std::path::Path;

/// A client for the saved login (or GANTRY_URL / GANTRY_TOKEN); a Globus login is
/// refreshed first if its access token has run out.
pub async fn client() -> anyhow::Result<Client> {
    let (url, token) = config::resolve(None)?;
    let env_token = std::env::var("GANTRY_TOKEN").is_ok_and(|t| !t.is_empty());
    if !env_token
        && let Some(mut saved) = config::load()?
        && saved.url.trim_end_matches('/') == url.trim_end_matches('/')
        && login::refresh_if_needed(&mut saved).await?
    {
        config::save(&saved)?;
        return Client::new(&url, Some(saved.token));
    }
    Client::new(&url, token)
}

fn parse_ref(s: &str) -> anyhow::Result<ImageRef> {
    ImageRef::parse(s).map_err(|e| {
        anyhow::anyhow!("{}; references look like collection/name:tag or collection/name@sha256:…", e.message)
    })
}

/// Signs in: with a token (GANTRY_TOKEN or --token-stdin), with Globus (--globus), or by
/// approving a code in the browser (the default).
pub async fn login(url: &str, token_stdin: bool, globus: bool) -> anyhow::Result<()> {
    let env_token = std::env::var("GANTRY_TOKEN").ok().filter(|t| !t.is_empty() && !token_stdin && !globus);
    let c = Client::new(url, None)?;
    let (token, globus_login) = if let Some(t) = env_token {
        (t, None)
    } else if token_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("read token")?;
        (line.trim().to_string(), None)
    } else if globus {
        let info = login::globus_info(&c).await?;
        let (authorize, verifier) = login::globus_authorize_url(&info)?;
        eprintln!(
            "Sign in with Globus: open this URL, sign in, and paste the authorization code it shows.\n\n{authorize}\n"
        );
        eprint!("Authorization code: ");
        std::io::stderr().flush().ok();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("read the authorization code")?;
        let (token, g) = login::globus_exchange(&info, line.trim(), &verifier).await?;
        (token, Some(g))
    } else {
        let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
        let name = if host.is_empty() { "gantry login".to_string() } else { format!("gantry login on {host}") };
        let (token, _) = login::device(&c, &name, |uri, code| {
            eprintln!("To sign in, open\n\n    {uri}\n\nin a browser and approve the code {code}. Waiting…");
        })
        .await?;
        (token, None)
    };
    if token.is_empty() {
        anyhow::bail!("no token given");
    }
    let c = Client::new(url, Some(token.clone()))?;
    let me: Me = c.get("/api/v1/me", "log in").await?;
    let username = me.username;
    let path = config::save(&config::Credentials {
        url: c.base.clone(),
        token,
        username: username.clone(),
        globus: globus_login,
    })?;
    crate::out!("logged in to {} as {username} (saved in {})", c.base, path.display());
    Ok(())
}

pub async fn push(path: &Path, reference: &str) -> anyhow::Result<()> {
    let r = parse_ref(reference)?;
    let c = client().await?;
    let rep = push::push(&c, path, &r).await?;
    crate::out!(
        "pushed {r} ({}, {} sent, {} blobs already there)\ndigest: {}",
        rep.kind,
        human_size(rep.bytes_sent),
        rep.blobs_skipped,
        rep.digest
    );
    Ok(())
}

pub async fn pull(reference: &str, out: Option<&Path>) -> anyhow::Result<()> {
    let r = parse_ref(reference)?;
    let c = client().await?;
    let p = pull::pull(&c, &r, out).await?;
    crate::out!("pulled {r} to {} (digest verified)", p.display());
    Ok(())
}

fn print_images(v: &ImageList, json: bool) -> anyhow::Result<()> {
    if json {
        crate::out!("{}", serde_json::to_string_pretty(&v.images)?);
        return Ok(());
    }
    crate::out!("{:<45} {:<8} {:>10}  PUSHED", "IMAGE", "KIND", "SIZE");
    for i in &v.images {
        let size = human_size(i.size.max(0) as u64);
        crate::out!("{:<45} {:<8} {:>10}  {}", i.reference, i.kind.as_str(), size, i.created);
    }
    Ok(())
}

/// `gantry search TEXT`: what the web UI's search box finds, newest first.
pub async fn search(text: &str, label: Option<&str>, json: bool) -> anyhow::Result<()> {
    let c = client().await?;
    let mut q = format!("/api/v1/search?limit=500&q={}", gantry_domain::url::escape(text));
    if let Some(l) = label {
        q.push_str(&format!("&label={}", gantry_domain::url::escape(l)));
    }
    let v: ImageList = c.get(&q, "search").await?;
    print_images(&v, json)
}

pub async fn ls(collection: Option<&str>, json: bool) -> anyhow::Result<()> {
    let c = client().await?;
    match collection {
        None => {
            let v: CollectionList = c.get("/api/v1/collections", "list collections").await?;
            if json {
                crate::out!("{}", serde_json::to_string_pretty(&v.collections)?);
                return Ok(());
            }
            crate::out!("{:<30} {:<10} ROLE", "COLLECTION", "VISIBILITY");
            for col in &v.collections {
                let role = col.role.map(|r| r.as_str()).unwrap_or("-");
                crate::out!("{:<30} {:<10} {role}", col.name, col.visibility.as_str());
            }
        }
        Some(name) if name.contains('/') => {
            let v: RepositoryInfo =
                c.get(&format!("/api/v1/repositories/{name}"), &format!("list the tags of {name}")).await?;
            if json {
                crate::out!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            crate::out!("{:<24} {:<19} {:<8} {:>10} {:<20} PUSHED", "TAG", "DIGEST", "KIND", "SIZE", "BY");
            for t in &v.tags {
                let m = v.manifests.iter().find(|m| m.digest == t.digest);
                let short = t.digest.split_once(':').map_or(t.digest.as_str(), |(_, h)| &h[..h.len().min(12)]);
                crate::out!(
                    "{:<24} {:<19} {:<8} {:>10} {:<20} {}",
                    t.name,
                    format!("sha256:{short}"),
                    m.map_or("", |m| m.kind.as_str()),
                    m.map(|m| human_size(m.size.max(0) as u64)).unwrap_or_default(),
                    m.and_then(|m| m.pushed_by.as_deref()).unwrap_or("-"),
                    t.updated
                );
            }
        }
        Some(name) => {
            let v: ImageList = c.get(&format!("/api/v1/collections/{name}/images"), &format!("list {name}")).await?;
            print_images(&v, json)?;
        }
    }
    Ok(())
}

pub async fn inspect(reference: &str, json: bool) -> anyhow::Result<()> {
    let r = parse_ref(reference)?;
    let c = client().await?;
    let v: ImageDetail = c.get(&format!("/api/v1/images/{r}"), &r.to_string()).await?;
    if json {
        crate::out!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    // What others pushed is escaped: no control or bidi character reaches the terminal.
    let p = |s: &str| gantry_domain::text::printable(s).into_owned();
    let or_dash = |s: &Option<String>| s.as_deref().map(p).unwrap_or_else(|| "-".into());
    crate::out!("image:        {}", r);
    crate::out!("digest:       {}", v.digest);
    crate::out!("kind:         {}", v.kind.as_str());
    crate::out!("size:         {}", human_size(v.size.max(0) as u64));
    crate::out!("pushed:       {} by {}", v.created, or_dash(&v.pushed_by));
    crate::out!("tags:         {}", v.tags.join(", "));
    crate::out!("download:     {}", v.download_url);
    if v.kind == ImageKind::Sif {
        crate::out!("architecture: {}", or_dash(&v.architecture));
        crate::out!("created:      {}", or_dash(&v.image_created));
        if let Some(Value::Object(l)) = &v.labels {
            crate::out!("labels:");
            for (k, val) in l {
                crate::out!("  {}: {}", p(k), p(&val.as_str().map(str::to_string).unwrap_or_else(|| val.to_string())));
            }
        }
        if let Some(d) = &v.definition {
            crate::out!("definition:\n{}", d.lines().map(|l| format!("  {}", p(l))).collect::<Vec<_>>().join("\n"));
        }
    }
    if let Some(files) = &v.files {
        crate::out!("files:");
        for f in files {
            crate::out!("  {:>10}  {}", human_size(f.size.max(0) as u64), p(&f.path));
        }
    }
    Ok(())
}

pub async fn tag(src: &str, dst: &str) -> anyhow::Result<()> {
    let (a, b) = (parse_ref(src)?, parse_ref(dst)?);
    let c = client().await?;
    let d = gantry_client::tag(&c, &a, &b).await?;
    crate::out!("tagged {b} -> {d}");
    Ok(())
}

pub async fn rm(reference: &str) -> anyhow::Result<()> {
    let r = parse_ref(reference)?;
    let c = client().await?;
    c.send(c.req(Method::DELETE, &format!("/api/v1/images/{r}")), &format!("remove {r}")).await?;
    crate::out!("removed {r}");
    Ok(())
}
