//! containerd's stdio FIFOs, opened for the container's process itself (no copying through the
//! shim): stdin read-only, stdout and stderr write-only; an empty path is /dev/null.

use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// stdin, stdout, stderr for the container process.
pub fn open(stdin: &str, stdout: &str, stderr: &str) -> io::Result<[OwnedFd; 3]> {
    Ok([
        fifo(stdin, libc::O_RDONLY)?,
        fifo(stdout, libc::O_WRONLY)?,
        fifo(stderr, libc::O_WRONLY)?,
    ])
}

/// The numbers of `open`'s fds, as the library's create and exec take them.
pub fn raw(io: &[OwnedFd; 3]) -> [std::os::fd::RawFd; 3] {
    io.each_ref().map(std::os::fd::AsRawFd::as_raw_fd)
}

/// One FIFO end (or /dev/null for an empty path).
pub fn fifo(path: &str, mode: i32) -> io::Result<OwnedFd> {
    if path.is_empty() {
        return raw_open("/dev/null", libc::O_RDWR);
    }
    if path.contains("://") {
        // binary:// and file:// log URIs are containerd's logging plugins, not FIFOs.
        return Err(io::Error::other(format!(
            "stdio {path:?}: only FIFO paths are supported"
        )));
    }
    // O_NONBLOCK: opening a FIFO never waits for its other end. A write end without a reader
    // (ENXIO) falls back to O_RDWR, which keeps the FIFO open for a reader that comes later.
    let fd = match raw_open(path, mode | libc::O_NONBLOCK) {
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => raw_open(path, libc::O_RDWR)?,
        r => r?,
    };
    // The process itself reads and writes blocking.
    // SAFETY: fcntl on an fd we own.
    unsafe {
        let fl = libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::F_GETFL);
        libc::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            libc::F_SETFL,
            fl & !libc::O_NONBLOCK,
        );
    }
    Ok(fd)
}

fn raw_open(path: &str, flags: i32) -> io::Result<OwnedFd> {
    let c = CString::new(path).map_err(io::Error::other)?;
    // SAFETY: a valid C string; the fd returned is ours.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
