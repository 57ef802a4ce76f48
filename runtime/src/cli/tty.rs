//! Foreground terminals: when `run` or `exec` needs a tty and no `--console-socket` was given,
//! bvisor receives the pty master itself and relays it to its own stdio, as runc does.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

pub struct ConsoleListener {
    dir: PathBuf,
    pub path: PathBuf,
    listener: UnixListener,
}

impl ConsoleListener {
    /// A listening socket in a fresh private directory (unique per call: a shim serves many
    /// terminals at once).
    pub fn new() -> std::io::Result<ConsoleListener> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("bvisor-console-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("console.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        Ok(ConsoleListener {
            dir,
            path,
            listener,
        })
    }

    /// Accept the launcher's connection and take the pty master it sends.
    pub fn receive_master(&self) -> std::io::Result<OwnedFd> {
        let (stream, _) = self.listener.accept()?;
        recv_fd(&stream)
    }
}

impl Drop for ConsoleListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn recv_fd(s: &UnixStream) -> std::io::Result<OwnedFd> {
    let (_, fds) = bvisor_launcher::fdpass::recv_with_fds(s.as_raw_fd(), 1)?;
    match fds[..] {
        // SAFETY: an fd we just received and own.
        [fd] => Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
        _ => Err(std::io::Error::other("console socket: no fd received")),
    }
}

/// Terminal settings of our stdin, restored on drop.
pub struct RawMode {
    saved: Option<libc::termios>,
}

impl RawMode {
    pub fn enter() -> RawMode {
        // SAFETY: tcgetattr/tcsetattr on fd 0 with valid structs; a non-tty just fails.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return RawMode { saved: None };
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(0, libc::TCSANOW, &t);
            RawMode { saved: Some(saved) }
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = self.saved {
            // SAFETY: restoring saved settings.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
        }
    }
}

/// Copy stdin → master and master → stdout in background threads. The output thread ends when
/// the pty closes (the container's last holder of the slave exited).
pub fn relay(master: OwnedFd) -> std::thread::JoinHandle<()> {
    let mut out_side = std::fs::File::from(master);
    let mut in_side = out_side.try_clone().expect("dup pty master");
    // Window size follows ours.
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ with a valid winsize struct.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(in_side.as_raw_fd(), libc::TIOCSWINSZ, &ws);
        }
    }
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || in_side.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdout = std::io::stdout();
        // EIO once every slave fd is closed: the container is gone.
        while let Ok(n) = out_side.read(&mut buf) {
            if n == 0 || stdout.write_all(&buf[..n]).is_err() {
                break;
            }
            let _ = stdout.flush();
        }
    })
}
