//! `bvisor run`: create + start; in the foreground, wait and return the container's exit status.

use super::create::CreateArgs;
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
    let st = container::create(&a.create.opts(g))?;
    if let Err(e) = container::start(&g.root, &st.id) {
        let _ = container::delete(&g.root, &st.id, true);
        return Err(e.into());
    }
    if a.detach {
        return Ok(0);
    }
    let code = wait_forwarding(st.pid);
    if !a.keep {
        container::delete(&g.root, &st.id, true)?;
    }
    Ok(code?)
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
    sys::wait_exit_code(pid)
}
