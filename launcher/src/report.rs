//! Step reports on the control channel.

use crate::sys::{self, SysError, SysResult};
use bvisor_launcher::Report;
use std::os::fd::RawFd;

pub struct Reporter {
    fd: RawFd,
    /// Until the container is ready the runtime waits for every report, and a report that
    /// cannot be sent means it died: stop rather than leave an orphan. After `Ready` (the
    /// runtime's `create` has returned) reports are best effort.
    attached: bool,
}

pub fn send(fd: RawFd, r: &Report) -> SysResult<()> {
    sys::send_msg(fd, &r.encode())
}

impl Reporter {
    pub fn new(fd: RawFd) -> Reporter {
        Reporter { fd, attached: true }
    }

    pub fn fd(&self) -> RawFd {
        self.fd
    }

    pub fn detach(&mut self) {
        self.attached = false;
    }

    /// Run step `n`; report `applied` or `failed(errno, detail)`. A failed step returns Err(())
    /// and the caller stops: nothing after it runs.
    pub fn step<T>(
        &mut self,
        n: u32,
        name: &str,
        f: impl FnOnce() -> SysResult<T>,
    ) -> Result<T, ()> {
        match f() {
            Ok(v) => {
                let sent = send(
                    self.fd,
                    &Report::Step {
                        n,
                        name: name.to_string(),
                        ok: true,
                        errno: None,
                        detail: String::new(),
                    },
                );
                if sent.is_err() && self.attached {
                    return Err(());
                }
                Ok(v)
            }
            Err(e) => {
                self.failed(n, name, &e);
                Err(())
            }
        }
    }

    pub fn failed(&mut self, n: u32, name: &str, e: &SysError) {
        let sent = send(
            self.fd,
            &Report::Step {
                n,
                name: name.to_string(),
                ok: false,
                errno: Some(e.errno),
                detail: e.to_string(),
            },
        );
        if sent.is_err() {
            eprintln!("bvisor-launcher: step {n} {name} failed: {e}");
        }
    }
}
