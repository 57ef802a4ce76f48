//! Rootless callers: bvisor gives a container cgroups of its own only where the caller's cgroup
//! is delegated to it (writable); otherwise the container runs in the caller's cgroups and the
//! planner refuses whatever needs cgroups of its own.

use super::Hierarchies;

/// Why an unprivileged caller cannot have cgroups of its own here (None for root, or when every
/// hierarchy's own cgroup is writable by the caller).
pub fn denial(h: &Hierarchies) -> Option<String> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return None;
    }
    h.all.iter().map(|x| x.own_dir()).find_map(|dir| {
        let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
        // SAFETY: a valid C string; faccessat only reads it.
        let ok = unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) };
        (ok != 0).then(|| {
            format!(
                "rootless: the caller's cgroup {} is not delegated to it (not writable), so the container can have no cgroups of its own",
                dir.display()
            )
        })
    })
}
