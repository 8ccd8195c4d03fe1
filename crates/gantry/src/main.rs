use anyhow::Context;
use clap::{Parser, Subcommand};
use gantry::{admin, cli_cmd, experiment_cmd, transfer_cmd};
use gantry_domain::{Role, TokenScope, Visibility};
use gantry_server::Config;
use std::io::Read;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "gantry", version, about = "Gantry: container images and datasets, with Globus")]
struct Cli {
    /// Configuration file (TOML). GANTRY_* environment variables override it.
    #[arg(long, env = "GANTRY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server.
    Serve,
    /// Log in to a server: approve a code in the browser (default), sign in with Globus,
    /// or give an API token. Saved in ~/.config/gantry, mode 0600.
    Login {
        /// Server URL, e.g. https://gantry.example.org
        url: String,
        /// Read an API token from standard input.
        #[arg(long, conflicts_with = "globus")]
        token_stdin: bool,
        /// Sign in with Globus and use a Globus token for Gantry (refreshed when needed).
        #[arg(long)]
        globus: bool,
    },
    /// Push a SIF image, a file or a directory (dataset) as collection/name:tag.
    Push { path: PathBuf, reference: String },
    /// Pull an image: a SIF to a file, a dataset to a directory, others to an OCI layout.
    Pull {
        reference: String,
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Search the images you may see: names, titles, labels, definition files, who
    /// pushed them and who owns their collection.
    Search {
        #[arg(default_value = "")]
        text: String,
        /// Only images with this label (`key` or `key=value`).
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List collections, the images of one collection, or the tags of a repository
    /// (COLLECTION/NAME).
    Ls {
        collection: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show an image: digest, size, SIF header, files.
    Inspect {
        reference: String,
        #[arg(long)]
        json: bool,
    },
    /// Give an image another tag (possibly in another repository).
    Tag { source: String, target: String },
    /// Remove a tag, or by digest an image and all its tags.
    Rm { reference: String },
    /// Connect your Globus account to Gantry (for transfers), see or end the connection.
    Globus {
        #[command(subcommand)]
        cmd: GlobusCmd,
    },
    /// Find Globus endpoints and look inside them.
    Endpoints {
        #[command(subcommand)]
        cmd: EndpointsCmd,
    },
    /// Send an image to a Globus endpoint: a SIF arrives as PATH/NAME_TAG.sif, a dataset
    /// as PATH/NAME/….
    Transfer {
        reference: String,
        #[command(flatten)]
        to: TransferTo,
    },
    /// The facility's experiments you may see.
    Experiments {
        /// Text in the proposal id, title, description or beam line.
        #[arg(long, default_value = "")]
        search: String,
        /// Only your favourites.
        #[arg(long)]
        favorite: bool,
        #[arg(long)]
        json: bool,
    },
    /// One experiment: show it, or pull a session's data.
    Experiment {
        #[command(subcommand)]
        cmd: ExperimentCmd,
    },
    /// List your transfers.
    Tasks {
        #[arg(long)]
        json: bool,
    },
    /// Show or cancel one transfer.
    Task {
        #[command(subcommand)]
        cmd: TaskCmd,
    },
    /// Try Gantry: the gateway and the built-in Globus service in one process, with demo
    /// identities, a group, endpoints, and public and private collections.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Where the built-in Globus service listens.
        #[arg(long, default_value = "127.0.0.1:8090")]
        globus_listen: String,
        /// Where the demo keeps its data (kept between runs).
        #[arg(long, default_value = "./gantry-demo")]
        data: PathBuf,
    },
    /// Run the built-in Globus-compatible service (Auth, Groups, Transfer).
    GlobusLocal {
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: String,
        /// State, signing key, endpoint roots and the generated configuration.
        #[arg(long, default_value = "./globus-local-data")]
        data: PathBuf,
        /// Its configuration (identities, groups, policies, clients, endpoints).
        #[arg(long = "config")]
        globus_config: Option<PathBuf>,
    },
    /// Run the built-in user office (experiments, Umbrella hashes, authorization).
    UserOfficeLocal {
        #[arg(long, default_value = "127.0.0.1:8091")]
        listen: String,
        /// Where its configuration is kept (written with the demo's on first start).
        #[arg(long, default_value = "./user-office-data")]
        data: PathBuf,
        /// Its configuration (users, experiments, members).
        #[arg(long = "config")]
        office_config: Option<PathBuf>,
    },
    /// Administer users, tokens, collections and storage.
    Admin {
        #[command(subcommand)]
        cmd: AdminCmd,
    },
}

#[derive(Subcommand)]
enum GlobusCmd {
    /// Connect: open the printed link in a browser signed in to Gantry.
    Connect {
        /// A consent Globus asked for (a Transfer scope with data_access dependencies).
        #[arg(long)]
        scope: Vec<String>,
    },
    /// Is the connection there, and does it work?
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Disconnect and revoke the tokens Gantry holds.
    Disconnect,
}

#[derive(Subcommand)]
enum EndpointsCmd {
    /// Search endpoints (full text), within a Globus scope.
    Search {
        #[arg(default_value = "")]
        text: String,
        #[arg(long, default_value = "all", value_parser = ["all", "my-endpoints", "recently-used", "in-use", "shared-by-me", "shared-with-me", "administered-by-me"])]
        scope: String,
        #[arg(long)]
        json: bool,
    },
    /// List a directory: ENDPOINT_ID[:PATH].
    Ls {
        target: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AdminExperimentsCmd {
    /// Sync from the user office: every linked user, or one facility user.
    Sync {
        #[arg(long)]
        user: Option<String>,
    },
    /// Import experiments, sessions and members: proposal,member,session,path per line.
    Import { file: PathBuf },
    /// Every experiment.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Link a Gantry user to a facility user (and sync them).
    Link { user: String, facility_user: String },
}

/// Where a transfer goes, and how.
#[derive(clap::Args)]
struct TransferTo {
    /// ENDPOINT_ID[:PATH] (the path defaults to /~/)
    target: String,
    #[arg(long)]
    label: Option<String>,
    /// Skip files already at the destination: exists, size, mtime or checksum.
    #[arg(long)]
    sync: Option<gantry_domain::SyncLevel>,
    /// Do not have Globus verify checksums after the transfer.
    #[arg(long)]
    no_verify: bool,
    /// Keep the files' modification times.
    #[arg(long)]
    preserve_timestamps: bool,
    /// Wait for the transfer to end, with a progress bar.
    #[arg(long)]
    wait: bool,
}

impl TransferTo {
    /// Sends what `what` names (an image or experiment data) where this says.
    async fn send(self, what: gantry_api_types::NewTransfer) -> anyhow::Result<()> {
        let (endpoint_id, path) = transfer_cmd::split_target(&self.target);
        let body = gantry_api_types::NewTransfer {
            endpoint_id,
            path,
            label: self.label,
            sync_level: self.sync.map(gantry_domain::SyncLevel::level),
            verify_checksum: Some(!self.no_verify),
            preserve_timestamp: Some(self.preserve_timestamps),
            ..what
        };
        transfer_cmd::transfer(&body, self.wait).await
    }
}

#[derive(Subcommand)]
enum ExperimentCmd {
    /// An experiment and its sessions.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// A session's data into a directory (default ID_sSESSION); run again to resume.
    Pull {
        id: String,
        session: i64,
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Only this folder or file of the session (VOLUME/path).
        #[arg(long)]
        path: Option<String>,
    },
    /// Send a session's data (or a folder or file of it) to a Globus endpoint: the
    /// session arrives as PATH/ID-SESSION/VOLUME/…, a folder as PATH/FOLDER/….
    Send {
        id: String,
        session: i64,
        /// Only this folder or file of the session (VOLUME/path).
        #[arg(long)]
        path: Option<String>,
        #[command(flatten)]
        to: TransferTo,
    },
}

#[derive(Subcommand)]
enum TaskCmd {
    Show { id: String },
    Cancel { id: String },
}

#[derive(Subcommand)]
enum AdminCmd {
    /// Manage local users.
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        cmd: TokenCmd,
    },
    /// Manage collections.
    Collection {
        #[command(subcommand)]
        cmd: CollectionCmd,
    },
    /// The facility's experiments: sync them from the user office, import a CSV, list.
    Experiments {
        #[command(subcommand)]
        cmd: AdminExperimentsCmd,
    },
    /// Remove unreferenced blobs and expired uploads.
    Gc {
        /// Keep unreferenced blobs younger than this many seconds (default: gc_grace_secs).
        #[arg(long)]
        grace: Option<u64>,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a local user.
    Create {
        name: String,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from standard input (for web sign-in).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Disable an account: its sessions end, its tokens are refused until it is enabled.
    Disable { name: String },
    /// Enable a disabled account again.
    Enable { name: String },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// List a user's tokens (never their values).
    List {
        #[arg(long)]
        user: String,
    },
    /// Revoke one of a user's tokens by id.
    Revoke {
        #[arg(long)]
        user: String,
        id: i64,
    },
    /// Create an API token and print it (it is shown only once).
    Create {
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "cli")]
        name: String,
        #[arg(long, default_value = "write", value_parser = ["read", "write"])]
        scope: String,
        /// Expire the token after this many days.
        #[arg(long)]
        expires_days: Option<u32>,
    },
}

#[derive(Subcommand)]
enum CollectionCmd {
    /// Create a collection.
    Create {
        name: String,
        #[arg(long)]
        public: bool,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Give a user a role on a collection.
    Member {
        collection: String,
        user: String,
        #[arg(value_parser = ["viewer", "contributor", "owner"])]
        role: String,
    },
    /// Give the members of a Globus group a role on a collection.
    Group {
        collection: String,
        /// The Globus group's id.
        group: String,
        #[arg(value_parser = ["viewer", "contributor", "owner"])]
        role: String,
    },
}

fn init_logging(filter: &str) {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| filter.to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = runtime().and_then(|rt| rt.block_on(run(cli))) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// The async runtime: one worker thread per core (`TOKIO_WORKER_THREADS` sets another
/// number) and at most `GANTRY_BLOCKING_THREADS` (default 512) threads for the work kept
/// off the workers: file writes, SIF parsing, password hashing.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.enable_all();
    if let Ok(v) = std::env::var("GANTRY_BLOCKING_THREADS") {
        let n: usize = v
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| anyhow::anyhow!("GANTRY_BLOCKING_THREADS must be a positive number, not {v:?}"))?;
        b.max_blocking_threads(n);
    }
    Ok(b.build()?)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Login { url, token_stdin, globus } => return cli_cmd::login(&url, token_stdin, globus).await,
        Cmd::Push { path, reference } => return cli_cmd::push(&path, &reference).await,
        Cmd::Pull { reference, output } => {
            return cli_cmd::pull(&reference, output.as_deref()).await;
        }
        Cmd::Ls { collection, json } => return cli_cmd::ls(collection.as_deref(), json).await,
        Cmd::Search { text, label, json } => return cli_cmd::search(&text, label.as_deref(), json).await,
        Cmd::Inspect { reference, json } => return cli_cmd::inspect(&reference, json).await,
        Cmd::Tag { source, target } => return cli_cmd::tag(&source, &target).await,
        Cmd::Rm { reference } => return cli_cmd::rm(&reference).await,
        Cmd::Globus { cmd } => {
            return match cmd {
                GlobusCmd::Connect { scope } => transfer_cmd::globus_connect(&scope).await,
                GlobusCmd::Status { json } => transfer_cmd::globus_status(json).await,
                GlobusCmd::Disconnect => transfer_cmd::globus_disconnect().await,
            };
        }
        Cmd::Endpoints { cmd } => {
            return match cmd {
                EndpointsCmd::Search { text, scope, json } => transfer_cmd::endpoints_search(&text, &scope, json).await,
                EndpointsCmd::Ls { target, json } => transfer_cmd::endpoints_ls(&target, json).await,
            };
        }
        Cmd::Transfer { reference, to } => {
            return to.send(gantry_api_types::NewTransfer { reference, ..Default::default() }).await;
        }
        Cmd::Experiment { cmd: ExperimentCmd::Send { id, session, path, to } } => {
            let what = gantry_api_types::NewTransfer {
                experiment: Some(id),
                session: Some(session),
                source_path: path,
                ..Default::default()
            };
            return to.send(what).await;
        }
        Cmd::Tasks { json } => return transfer_cmd::tasks(json).await,
        Cmd::Experiments { search, favorite, json } => return experiment_cmd::list(&search, favorite, json).await,
        Cmd::Experiment { cmd: ExperimentCmd::Show { id, json } } => return experiment_cmd::show(&id, json).await,
        Cmd::Experiment { cmd: ExperimentCmd::Pull { id, session, output, path } } => {
            return experiment_cmd::pull(&id, session, path.as_deref(), output.as_deref()).await;
        }
        Cmd::Task { cmd: TaskCmd::Show { id } } => return transfer_cmd::task_show(&id).await,
        Cmd::Task { cmd: TaskCmd::Cancel { id } } => return transfer_cmd::task_cancel(&id).await,
        Cmd::Demo { listen, globus_listen, data } => {
            init_logging("warn");
            return gantry::demo::run(gantry::demo::Options { listen, globus_listen, data }, shutdown_signal()).await;
        }
        Cmd::UserOfficeLocal { listen, data, office_config } => {
            init_logging("info");
            let (cfg, made) = gantry_user_office_local::config::load(&data, office_config.as_deref())?;
            if let Some(p) = made {
                eprintln!("wrote the demo user office's configuration to {}", p.display());
            }
            cfg.write_files(&data.join("experiments"))?;
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
            let (addr, _, fut) = gantry_user_office_local::start(cfg, listener, shutdown_signal())?;
            eprintln!("user office at http://{addr} (datasets under {})", data.join("experiments").display());
            return fut.await;
        }
        Cmd::GlobusLocal { listen, data, globus_config } => {
            init_logging("info");
            return globus_local(&listen, &data, globus_config.as_deref()).await;
        }
        _ => {}
    }
    let config = Config::load(cli.config.as_deref())?;
    match cli.cmd {
        Cmd::Serve => {
            init_logging(&config.log);
            gantry_server::serve(config, shutdown_signal()).await
        }
        Cmd::Admin { cmd } => {
            init_logging("warn");
            let app = admin::open(config).await?;
            match cmd {
                AdminCmd::User { cmd: UserCmd::Create { name, admin: is_admin, password_stdin } } => {
                    let pw = if password_stdin {
                        let mut s = String::new();
                        std::io::stdin().read_to_string(&mut s).context("read password from stdin")?;
                        Some(s.trim_end_matches(['\n', '\r']).to_string())
                    } else {
                        None
                    };
                    admin::create_user(&app, &name, is_admin, pw.as_deref()).await?;
                    gantry::out!("created user {name}{}", if is_admin { " (admin)" } else { "" });
                }
                AdminCmd::User { cmd: UserCmd::List } => {
                    for u in app.users.list().await? {
                        let role = if u.is_admin { "admin" } else { "user" };
                        gantry::out!("{}\t{role}{}", u.username, if u.disabled { "\tdisabled" } else { "" });
                    }
                }
                AdminCmd::Experiments { cmd } => admin::experiments(&app, cmd.into()).await?,
                AdminCmd::User { cmd: UserCmd::Disable { name } } => {
                    app.users.set_disabled(&gantry_domain::Principal::operator(), &name, true).await?;
                    gantry::out!("disabled {name}");
                }
                AdminCmd::User { cmd: UserCmd::Enable { name } } => {
                    app.users.set_disabled(&gantry_domain::Principal::operator(), &name, false).await?;
                    gantry::out!("enabled {name}");
                }
                AdminCmd::Token { cmd: TokenCmd::Create { user, name, scope, expires_days } } => {
                    let t = admin::create_token(&app, &user, &name, TokenScope::parse(&scope)?, expires_days).await?;
                    gantry::out!("{t}");
                }
                AdminCmd::Token { cmd: TokenCmd::List { user } } => {
                    let u = app.users.named(&user).await?;
                    gantry::out!("{:<6} {:<20} {:<6} {:<21} LAST USED", "ID", "NAME", "SCOPE", "CREATED");
                    for t in app.tokens.list(u.id).await? {
                        gantry::out!(
                            "{:<6} {:<20} {:<6} {:<21} {}",
                            t.id,
                            t.name,
                            t.scope,
                            gantry_domain::time::rfc3339(t.created_at),
                            t.last_used_at.map(gantry_domain::time::rfc3339).unwrap_or_else(|| "never".into())
                        );
                    }
                }
                AdminCmd::Token { cmd: TokenCmd::Revoke { user, id } } => {
                    let u = app.users.named(&user).await?;
                    app.tokens.revoke(u.id, id).await.map_err(|_| {
                        anyhow::anyhow!("{user} has no token {id}; see `gantry admin token list --user {user}`")
                    })?;
                    gantry::out!("revoked token {id} of {user}");
                }
                AdminCmd::Collection { cmd: CollectionCmd::Create { name, public, owner, description } } => {
                    let v = if public { Visibility::Public } else { Visibility::Private };
                    admin::create_collection(&app, &name, v, owner.as_deref(), &description).await?;
                    gantry::out!("created {} collection {name}", v.as_str());
                }
                AdminCmd::Collection { cmd: CollectionCmd::Member { collection, user, role } } => {
                    admin::add_member(&app, &collection, &user, Role::parse(&role)?).await?;
                    gantry::out!("{user} is now {role} of {collection}");
                }
                AdminCmd::Collection { cmd: CollectionCmd::Group { collection, group, role } } => {
                    admin::add_group(&app, &collection, &group, Role::parse(&role)?).await?;
                    gantry::out!("members of Globus group {group} are now {role} of {collection}");
                }
                AdminCmd::Gc { grace } => {
                    let r = app.gc.run(grace.unwrap_or(app.gc.grace_secs)).await?;
                    gantry::out!("removed {} blobs and {} uploads", r.blobs_removed, r.uploads_removed);
                }
            }
            app.close().await;
            Ok(())
        }
        _ => unreachable!("client commands are handled above"),
    }
}

async fn globus_local(listen: &str, data: &std::path::Path, config: Option<&std::path::Path>) -> anyhow::Result<()> {
    let (cfg, made) = gantry_globus_local::load_config(data, config)?;
    if let Some(summary) = made {
        eprint!("{summary}");
    }
    let listener =
        tokio::net::TcpListener::bind(listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let (running, fut) = gantry_globus_local::start(cfg, data, listener, shutdown_signal()).await?;
    tracing::info!("Globus-compatible service listening on {} (base URL {})", running.addr, running.service.base_url);
    fut.await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

impl From<AdminExperimentsCmd> for admin::Experiments {
    fn from(c: AdminExperimentsCmd) -> Self {
        match c {
            AdminExperimentsCmd::Sync { user } => admin::Experiments::Sync(user),
            AdminExperimentsCmd::Import { file } => admin::Experiments::Import(file),
            AdminExperimentsCmd::List { json } => admin::Experiments::List(json),
            AdminExperimentsCmd::Link { user, facility_user } => admin::Experiments::Link(user, facility_user),
        }
    }
}
