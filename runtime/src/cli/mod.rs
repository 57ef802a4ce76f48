//! The `bvisor` command line: runc's global flags and subcommands, one file per subcommand.

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod log;
pub mod pause;
pub mod plan;
pub mod ps;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod tty;
pub mod update;

/// Exit code for a usage or runtime error, as runc uses.
pub const EXIT_ERROR: i32 = 1;

#[derive(Parser, Debug)]
#[command(
    name = "bvisor",
    version,
    about = "An OCI container runtime that refuses to claim isolation it cannot prove",
    long_about = "bvisor runs OCI bundles with runc's command line. Every isolation a config.json \
asks for becomes a requirement; a container is admitted only when each requirement has a proven \
mechanism on this machine (see `bvisor plan`), and refused whole otherwise, before anything is \
created."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Args, Debug, Clone)]
pub struct Global {
    /// Root directory for container state
    #[arg(
        long,
        global = true,
        default_value = DEFAULT_ROOT,
        env = "BVISOR_ROOT"
    )]
    pub root: PathBuf,
    /// Log file (default: stderr)
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long = "log-format", global = true, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Log debug output
    #[arg(long, global = true)]
    pub debug: bool,
    /// Manage cgroups through systemd (not supported: bvisor refuses rather than ignores it)
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto (before the subcommand, as runc takes it; `spec
    /// --rootless` is the subcommand's own flag)
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Refuse configs that carry properties bvisor does not know
    #[arg(long, global = true)]
    pub strict: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container (it waits for `start`)
    Create(create::CreateArgs),
    /// Start a created container
    Start(start::StartArgs),
    /// Create and start a container, wait for it unless --detach
    Run(run::RunArgs),
    /// Print the state of a container as JSON
    State(state::StateArgs),
    /// Send a signal to a container's init (or every process with --all)
    Kill(kill::KillArgs),
    /// Delete a stopped container (--force: any container)
    Delete(delete::DeleteArgs),
    /// List containers
    List(list::ListArgs),
    /// List the processes of a container
    Ps(ps::PsArgs),
    /// Run a new process in a running container
    Exec(exec::ExecArgs),
    /// Freeze every process of a container
    Pause(pause::PauseArgs),
    /// Thaw a paused container
    Resume(pause::PauseArgs),
    /// Write a sample config.json
    Spec(spec::SpecArgs),
    /// Print what this runtime supports on this machine (runtime-spec features JSON)
    Features(features::FeaturesArgs),
    /// Print a bundle's boundary plan without running anything
    Plan(plan::PlanArgs),
    /// Update a running container's cgroup resources (admitted by the planner first)
    Update(update::UpdateArgs),
    /// Resource usage and OOM events of a container (one JSON object per line)
    Events(events::EventsArgs),
}

type AddArgs = fn(clap::Command) -> clap::Command;

/// Each subcommand's name and how its arguments are added, for [`parse`]'s short way. Must list
/// the same names as [`Command`] (a unit test compares them).
const SUBCOMMANDS: &[(&str, AddArgs)] = &[
    ("create", create::CreateArgs::augment_args),
    ("start", start::StartArgs::augment_args),
    ("run", run::RunArgs::augment_args),
    ("state", state::StateArgs::augment_args),
    ("kill", kill::KillArgs::augment_args),
    ("delete", delete::DeleteArgs::augment_args),
    ("list", list::ListArgs::augment_args),
    ("ps", ps::PsArgs::augment_args),
    ("exec", exec::ExecArgs::augment_args),
    ("pause", pause::PauseArgs::augment_args),
    ("resume", pause::PauseArgs::augment_args),
    ("spec", spec::SpecArgs::augment_args),
    ("features", features::FeaturesArgs::augment_args),
    ("plan", plan::PlanArgs::augment_args),
    ("update", update::UpdateArgs::augment_args),
    ("events", events::EventsArgs::augment_args),
];

/// Parse the command line (`args` with the program name first).
///
/// clap builds the whole command tree before it parses: every subcommand, with the global flags
/// copied into each. That was a quarter of the instructions of a `bvisor run` (callgrind), and
/// containerd runs bvisor several times per container. So when the subcommand can be told from
/// the words before it (runc's global flags, then a known name), only that subcommand is built;
/// the parse of what follows is clap's as always. Anything else (help, version, an unknown word
/// or flag) gets the whole tree, so clap's help and its suggestions are unchanged.
fn parse(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    let cmd = match subcommand_word(&args).and_then(|w| SUBCOMMANDS.iter().find(|s| s.0 == w)) {
        Some((name, augment)) => {
            let top = Global::augment_args(clap::Command::new("bvisor"));
            top.subcommand(augment(clap::Command::new(*name)))
                .subcommand_required(true)
        }
        None => Cli::command(),
    };
    Cli::from_arg_matches(&cmd.try_get_matches_from(args)?)
}

/// The subcommand's name, when only global flags come before it and no word asks for help or
/// the version (those need the whole tree).
fn subcommand_word(args: &[OsString]) -> Option<&str> {
    let wants_tree =
        |a: &OsString| matches!(a.to_str(), Some("-h" | "--help" | "-V" | "--version"));
    if args.iter().any(wants_tree) {
        return None;
    }
    let mut words = args.iter().skip(1).map(|a| a.to_str());
    while let Some(w) = words.next() {
        match w? {
            "--root" | "--log" | "--log-format" => {
                words.next()?;
            }
            "--debug" | "--systemd-cgroup" | "--strict" => {}
            // Its value is optional: what follows is the value only if it is one.
            "--rootless" => match words.next()? {
                Some("true" | "false" | "auto") => {}
                _ => return None,
            },
            w if ["--root=", "--log=", "--log-format=", "--rootless="]
                .iter()
                .any(|p| w.starts_with(p)) => {}
            w if w.starts_with('-') => return None,
            name => return Some(name),
        }
    }
    None
}

/// The state root for root (an unprivileged caller's is under `$XDG_RUNTIME_DIR`).
pub const DEFAULT_ROOT: &str = "/run/bvisor";

pub fn main() -> i32 {
    log::mark_start();
    let mut cli = match parse(std::env::args_os().collect()) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    log::init(&cli.global);
    rootless_root(&mut cli.global);
    match dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            log::error(&message(&e));
            EXIT_ERROR
        }
    }
}

/// The error and its causes on one line, each cause once: many errors already print their
/// source (`config.json: No such file or directory`), and anyhow's `{:#}` would append it again.
fn message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

/// As runc does, an unprivileged caller's default state root is `$XDG_RUNTIME_DIR/bvisor`
/// (`/run/bvisor` belongs to root).
fn rootless_root(g: &mut Global) {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 && g.root == std::path::Path::new(DEFAULT_ROOT) {
        if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|x| !x.is_empty()) {
            g.root = PathBuf::from(x).join("bvisor");
        }
    }
}

fn dispatch(cli: &Cli) -> anyhow::Result<i32> {
    let g = &cli.global;
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    if g.rootless.as_deref() == Some("true") && euid == 0 {
        // runc's --rootless=true relaxes cgroup errors for unprivileged users; as root there is
        // nothing to relax, and bvisor never relaxes a boundary anyway.
        log::debug("--rootless=true as root: nothing to relax");
    }
    if let Some(r) = g.rootless.as_deref() {
        if !matches!(r, "true" | "false" | "auto") {
            anyhow::bail!("--rootless {r:?}: expected true, false or auto");
        }
    }
    if g.systemd_cgroup {
        anyhow::bail!("--systemd-cgroup: systemd cgroup management is not supported; bvisor manages cgroupfs itself");
    }
    match &cli.command {
        Command::Create(a) => create::run(g, a),
        Command::Start(a) => start::run(g, a),
        Command::Run(a) => run::run(g, a),
        Command::State(a) => state::run(g, a),
        Command::Kill(a) => kill::run(g, a),
        Command::Delete(a) => delete::run(g, a),
        Command::List(a) => list::run(g, a),
        Command::Ps(a) => ps::run(g, a),
        Command::Exec(a) => exec::run(g, a),
        Command::Pause(a) => pause::run(g, a, true),
        Command::Resume(a) => pause::run(g, a, false),
        Command::Spec(a) => spec::run(g, a),
        Command::Features(a) => features::run(g, a),
        Command::Plan(a) => plan::run(g, a),
        Command::Update(a) => update::run(g, a),
        Command::Events(a) => events::run(g, a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &str) -> Vec<OsString> {
        std::iter::once("bvisor")
            .chain(words.split_whitespace())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn the_short_way_knows_every_subcommand() {
        let derived: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        let listed: Vec<String> = SUBCOMMANDS.iter().map(|s| s.0.to_string()).collect();
        assert_eq!(listed, derived);
    }

    #[test]
    fn the_subcommand_is_found_only_after_global_flags() {
        for (words, want) in [
            ("run c1", Some("run")),
            (
                "--root /r --log f --log-format json --debug delete -f c1",
                Some("delete"),
            ),
            (
                "--root=/r --rootless true --strict --systemd-cgroup state c1",
                Some("state"),
            ),
            ("--rootless=auto list", Some("list")),
            ("--rootless run c1", None),
            ("--nonsense run c1", None),
            ("--root", None),
            ("run --help", None),
            ("--version", None),
            ("", None),
        ] {
            assert_eq!(subcommand_word(&argv(words)), want, "{words}");
        }
    }

    /// The short way and the whole tree parse every command line the same, errors included.
    #[test]
    fn the_short_way_parses_as_the_whole_tree() {
        for words in [
            "run --bundle /b --detach c1",
            "--root /r run -b /b --pid-file p --console-socket s c1",
            "create --bundle /b c1 --root /late",
            "--log f --log-format json --debug exec -t --env A=1 --cwd / c1 sh -c true",
            "exec --process p.json c1",
            "--rootless false kill --all c1 KILL",
            "delete --force c1",
            "list -q",
            "list --format json",
            "ps --format json c1",
            "state c1",
            "events --stats --interval 1s c1",
            "update --memory 1000000 c1",
            "update -r - c1",
            "spec --rootless",
            "features",
            "plan --bundle /b",
            "pause c1",
            "resume c1",
            "start c1 c2",
            "run",
            "kill",
            "--log-format xml list",
            "run --no-such-flag c1",
        ] {
            let short = parse(argv(words)).map(|c| format!("{c:?}"));
            let whole = Cli::command()
                .try_get_matches_from(argv(words))
                .and_then(|m| Cli::from_arg_matches(&m))
                .map(|c| format!("{c:?}"));
            match (short, whole) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{words}"),
                (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind(), "{words}"),
                (a, b) => panic!("{words}: short way {a:?}, whole tree {b:?}"),
            }
        }
    }

    #[test]
    fn error_message_names_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        #[derive(Debug, thiserror::Error)]
        #[error("config.json: {source}")]
        struct Read {
            source: std::io::Error,
        }
        let e = anyhow::Error::new(Read { source: io }).context("create c1");
        assert_eq!(message(&e), "create c1: config.json: No such file");
    }
}
