//! `bvisor exec`: run a new process in a running container.

use super::Global;
use crate::container::{self, ExecOpts};
use oci_spec::runtime::Process;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// JSON file with the process to run (runtime-spec `process`); replaces the arguments
    #[arg(long, short = 'p')]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-TTY (needs --console-socket)
    #[arg(long, short = 't')]
    pub tty: bool,
    /// Unix socket that receives the pty master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Return once the process started
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// File to write the process's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Set an environment variable (KEY=VALUE), repeatable
    #[arg(long, short = 'e')]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// User as UID[:GID]
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// Additional group ids, repeatable
    #[arg(long = "additional-gids", short = 'g')]
    pub additional_gids: Vec<u32>,
    /// Set no_new_privileges for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Pass N more fds (3..3+N) to the process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Container id
    pub id: String,
    /// Command and arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

fn process(g: &Global, a: &ExecArgs) -> anyhow::Result<Process> {
    if let Some(p) = &a.process {
        let text = std::fs::read_to_string(p)
            .map_err(|e| anyhow::anyhow!("--process {}: {e}", p.display()))?;
        return serde_json::from_str(&text)
            .map(|p: crate::spec::de::ProcessDe| p.0)
            .map_err(|e| anyhow::anyhow!("--process {}: {e}", p.display()));
    }
    if a.args.is_empty() {
        anyhow::bail!("exec needs a command (or --process FILE)");
    }
    // Start from the container's own process: its capabilities, rlimits, user and env.
    let (st, _) = container::status_of(&g.root, &a.id)?;
    let mut p = st.config.process().clone().unwrap_or_default();
    p.set_args(Some(a.args.clone()));
    p.set_terminal(Some(a.tty));
    let mut env = p.env().clone().unwrap_or_default();
    for e in &a.env {
        let key = e.split('=').next().unwrap_or_default();
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    p.set_env(Some(env));
    if let Some(c) = &a.cwd {
        p.set_cwd(c.clone());
    }
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u.parse()?, g.parse()?),
            None => (u.parse()?, 0),
        };
        let mut user = p.user().clone();
        user.set_uid(uid);
        user.set_gid(gid);
        p.set_user(user);
    }
    if !a.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(a.additional_gids.clone()));
        p.set_user(user);
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}

pub fn run(g: &Global, a: &ExecArgs) -> anyhow::Result<i32> {
    let process = process(g, a)?;
    if !a.detach {
        crate::sys::set_child_subreaper()?;
    }
    let terminal = process.terminal().unwrap_or(false);
    let console = if terminal && a.console_socket.is_none() {
        if a.detach {
            anyhow::bail!("--tty with --detach needs --console-socket");
        }
        Some(super::tty::ConsoleListener::new()?)
    } else {
        None
    };
    let pid = container::exec(&ExecOpts {
        root: g.root.clone(),
        id: a.id.clone(),
        process,
        console_socket: console
            .as_ref()
            .map(|c| c.path.clone())
            .or_else(|| a.console_socket.clone()),
        preserve_fds: a.preserve_fds,
        strict: g.strict,
        stdio: None,
    })?;
    let relay = match &console {
        Some(l) => Some((
            super::tty::RawMode::enter(),
            super::tty::relay(l.receive_master()?),
        )),
        None => None,
    };
    if let Some(p) = &a.pid_file {
        container::create::write_pid_file(p, pid)?;
    }
    if a.detach {
        return Ok(0);
    }
    let code = super::run::wait_forwarding(pid);
    super::run::finish_relay(relay);
    Ok(code?)
}
