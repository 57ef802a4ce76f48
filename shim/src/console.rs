//! Terminals for containerd tasks (`ctr run -t`, `ctr task exec -t`, CRI `tty: true`): bvisor
//! sends the pty master to a console socket of ours; we copy containerd's stdin FIFO into it
//! and its output into the stdout FIFO, and resize it when containerd asks.

use crate::stdio;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

/// Start copying between the pty master and containerd's FIFOs. The output copy ends when the
/// pty closes (every holder of the slave exited); the input copy when containerd closes stdin.
pub fn relay(master: Arc<OwnedFd>, stdin: &str, stdout: &str) -> std::io::Result<()> {
    let out = stdio::fifo(stdout, libc::O_WRONLY)?;
    let mut out = std::fs::File::from(out);
    let mut from_pty = std::fs::File::from(master.try_clone()?);
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        // EIO once the slave side is gone.
        while let Ok(n) = from_pty.read(&mut buf) {
            if n == 0 || out.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    if !stdin.is_empty() {
        let mut input = std::fs::File::from(stdio::fifo(stdin, libc::O_RDONLY)?);
        let mut to_pty = std::fs::File::from(master.try_clone()?);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = input.read(&mut buf) {
                if n == 0 || to_pty.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    Ok(())
}

/// Set the pty's window size.
pub fn resize(master: &OwnedFd, width: u32, height: u32) -> std::io::Result<()> {
    let ws = libc::winsize {
        ws_row: height.min(u16::MAX as u32) as u16,
        ws_col: width.min(u16::MAX as u32) as u16,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ with a valid winsize on an fd we own.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
