//! Running one OCI hook: the state JSON on stdin, its timeout enforced. Shared by the runtime
//! (prestart, createRuntime, poststart, poststop) and the launcher (createContainer,
//! startContainer).

use crate::Hook;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run `h` to completion. Err carries an errno-like code and a description.
pub fn run(h: &Hook, state: &str) -> Result<(), (i32, String)> {
    let mut cmd = Command::new(&h.path);
    if let Some((argv0, rest)) = h.args.split_first() {
        use std::os::unix::process::CommandExt;
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear()
        .envs(h.env.iter().filter_map(|e| e.split_once('=')))
        .stdin(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| (e.raw_os_error().unwrap_or(libc::EIO), e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = h
        .timeout
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(st)) => return Err((libc::ECHILD, format!("exited with {st}"))),
            Ok(None) => {}
            Err(e) => return Err((libc::ECHILD, e.to_string())),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err((libc::ETIMEDOUT, "timed out".into()));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
