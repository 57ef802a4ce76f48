//! `bvisor run`: create + start; in the foreground, wait and return the container's exit status.

use super::create::CreateArgs;
use super::tty;
use super::Global;
use crate::container;
use crate::sys;
use std::sync::atomic::{AtomicI32, Ordering};

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Return as soon as the container started
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// Keep the container's state after it exits (bvisor deletes it unless --detach)
    #[arg(long = "keep")]
    pub keep: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

pub fn run(g: &Global, a: &RunArgs) -> anyhow::Result<i32> {
    if !a.detach {
        // The container init is re-parented to us when the launcher exits, so we can wait for
        // it and reap it.
        sys::set_child_subreaper()?;
    }
    let mut opts = a.create.opts(g);
    let dir = container::check_new_id(&opts.root, &opts.id)?;
    let loaded = crate::spec::load(&opts.bundle).map_err(container::Error::from)?;
    let terminal = loaded
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let console = if terminal && opts.console_socket.is_none() {
        if a.detach {
            anyhow::bail!("process.terminal with --detach needs --console-socket");
        }
        let l = tty::ConsoleListener::new()?;
        opts.console_socket = Some(l.path.clone());
        Some(l)
    } else {
        None
    };
    crate::cli::log::phase("run begins");
    let st = container::create_loaded(&opts, dir, loaded)?;
    let relay = match &console {
        Some(l) => {
            let master = l.receive_master()?;
            Some((tty::RawMode::enter(), tty::relay(master)))
        }
        None => None,
    };
    if !a.detach {
        // Forward from before the start: once started, the container may print that it is
        // ready and a supervisor may signal us at once (a handler installed after `start`
        // returned left a window in which that signal ended the runtime instead).
        forward_signals_to(st.pid);
    }
    if let Err(e) = container::start(&g.root, &st.id) {
        let _ = container::delete(&g.root, &st.id, true);
        return Err(e.into());
    }
    crate::cli::log::phase("started");
    if a.detach {
        return Ok(0);
    }
    let code = wait_forwarded(st.pid);
    crate::cli::log::phase("exited");
    if !a.keep {
        container::delete(&g.root, &st.id, true)?;
        crate::cli::log::phase("deleted");
    }
    finish_relay(relay);
    Ok(code?)
}

/// Let the output relay drain what the container wrote last, then restore the terminal.
pub fn finish_relay(relay: Option<(tty::RawMode, std::thread::JoinHandle<()>)>) {
    if let Some((mode, out)) = relay {
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(200);
        while !out.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        drop(mode);
    }
}

static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = FORWARD_TO.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Wait for `pid`, forwarding the signals a person or a supervisor sends us.
pub fn wait_forwarding(pid: i32) -> std::io::Result<i32> {
    forward_signals_to(pid);
    wait_forwarded(pid)
}

/// Wait for `pid`, whose signals [`forward_signals_to`] already forwards.
fn wait_forwarded(pid: i32) -> std::io::Result<i32> {
    let code = sys::wait_exit_code(pid);
    // Reaped: its pid may be reused by anyone now (delete and the relay still take a while).
    FORWARD_TO.store(0, Ordering::Relaxed);
    code
}

/// From now on, pass the signals a person or a supervisor sends us on to `pid`.
fn forward_signals_to(pid: i32) {
    FORWARD_TO.store(pid, Ordering::Relaxed);
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
    ] {
        // SAFETY: installing a handler that only calls kill.
        unsafe { libc::signal(sig, forward as *const () as libc::sighandler_t) };
    }
}
