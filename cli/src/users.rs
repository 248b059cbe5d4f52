//! `renkei users` and `renkei groups`: renkei's own staff accounts, in the gateway's database, and
//! the groups they belong to.

use std::io::BufRead;
use std::path::PathBuf;

use renkei_auth::{AuthConfig, Authenticator, Groups, Permission};

#[derive(Debug, clap::Args)]
pub(super) struct UsersArgs {
    #[command(flatten)]
    database: super::DatabaseArgs,
    /// The groups file the gateway uses (`[auth].groups`); the embedded default set otherwise.
    #[arg(long, global = true)]
    groups: Option<PathBuf>,
    /// The token key the gateway signs with (`[auth].token_key_file`); token.key in --data-dir
    /// otherwise.
    #[arg(long, global = true)]
    token_key_file: Option<PathBuf>,
    #[command(subcommand)]
    command: UsersCommand,
}

#[derive(Debug, clap::Subcommand)]
enum UsersCommand {
    /// Add a user. The password is read from the first line of standard input (at least 12
    /// characters), so it stays out of the shell's history and the process list.
    ///
    /// Example:
    ///   printf '%s\n' "$PASSWORD" | renkei users add staff-001 --name '試験 職員' --group 窓口職員
    Add {
        id: String,
        /// The name staff see in the counter app.
        #[arg(long)]
        name: String,
        /// A group (repeat for several): `renkei groups list` shows them.
        // Its own id: `groups` is the global --groups file.
        #[arg(long = "group", id = "group", required = true)]
        groups: Vec<String>,
    },
    /// Set a new password (first line of standard input); the user's logins end and a lock is lifted.
    Passwd { id: String },
    /// Disable a user: no more logins, and every login ends.
    Disable { id: String },
    /// Enable a disabled user again.
    Enable { id: String },
    /// Every user: id, groups, state.
    List,
    /// Print an access token for a user, without the password — for scripts such as
    /// `renkei conformance run --token`. Anyone who can run this can act as any user: it needs
    /// the token key file.
    Token {
        id: String,
        /// How long the token is accepted, in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl_s: u64,
    },
}

#[derive(Debug, clap::Args)]
pub(super) struct GroupsArgs {
    #[command(subcommand)]
    command: GroupsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum GroupsCommand {
    /// The groups and what each grants (of FILE, or of the embedded default set).
    List { file: Option<PathBuf> },
    /// Check a groups file: unknown permissions and keys, empty groups, departments on
    /// permissions they cannot limit. Exits non-zero on a problem.
    Check { file: PathBuf },
    /// Every permission, with what it allows.
    Permissions,
}

fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

pub(super) async fn run(args: UsersArgs) -> anyhow::Result<()> {
    let key_file = args.token_key_file.clone().unwrap_or_else(|| args.database.data_dir.join("token.key"));
    let config = AuthConfig {
        groups: args.groups.clone(),
        token_key_file: Some(key_file.clone()),
        ..AuthConfig::default()
    };
    let db = args.database.open().await?;
    let auth = Authenticator::new(db, config, &key_file).await.map_err(|e| anyhow::anyhow!(e))?;
    match args.command {
        UsersCommand::Add { id, name, groups } => {
            auth.add_user(&id, &name, &groups, &password_from_stdin()?).await?;
            println!("added {id} ({})", groups.join(", "));
        }
        UsersCommand::Passwd { id } => {
            auth.set_password(&id, &password_from_stdin()?).await?;
            println!("{id}: password changed; every login of {id} has ended");
        }
        UsersCommand::Disable { id } => {
            auth.set_disabled(&id, true).await?;
            println!("{id}: disabled; every login of {id} has ended");
        }
        UsersCommand::Enable { id } => {
            auth.set_disabled(&id, false).await?;
            println!("{id}: enabled");
        }
        UsersCommand::List => {
            let now = renkei_gateway::storage::now_ms();
            println!("{:<20} {:<10} {:<24} groups", "user", "state", "name");
            for u in auth.users().await? {
                let state = if u.disabled {
                    "disabled"
                } else if u.locked_until_ms.is_some_and(|t| t > now) {
                    "locked"
                } else {
                    "active"
                };
                println!("{:<20} {state:<10} {:<24} {}", u.id, u.display_name, u.group_names().join(", "));
            }
        }
        UsersCommand::Token { id, ttl_s } => println!("{}", auth.issue(&id, ttl_s).await?),
    }
    Ok(())
}

pub(super) fn run_groups(args: GroupsArgs) -> anyhow::Result<bool> {
    let load = |file: &Option<PathBuf>| match file {
        Some(f) => Groups::load(f).map_err(|e| anyhow::anyhow!(e)),
        None => Ok(Groups::embedded()),
    };
    match args.command {
        GroupsCommand::List { file } => {
            for g in load(&file)?.iter() {
                println!("{}  — {}", g.name, g.description);
                let permissions: Vec<&str> = g.permissions.iter().map(|p| p.as_str()).collect();
                println!("    grants       {}", permissions.join(", "));
                if let Some(d) = &g.departments {
                    println!("    departments  {}", d.iter().cloned().collect::<Vec<_>>().join(", "));
                }
            }
            Ok(true)
        }
        GroupsCommand::Check { file } => match Groups::load(&file) {
            Ok(groups) => {
                println!("{}: {} groups, no problems", file.display(), groups.iter().count());
                Ok(true)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(false)
            }
        },
        GroupsCommand::Permissions => {
            for p in Permission::ALL {
                println!("{p}");
            }
            Ok(true)
        }
    }
}
