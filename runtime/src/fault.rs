//! Test-only crash points. With the `fault-injection` feature in a debug build, a process whose
//! `BVISOR_FAULT` names a point kills itself there with SIGKILL, as an OOM killer or a
//! supervisor would, so the crash tests (tests/crash.rs) can show that `delete --force` clears
//! whatever a create that died at that point left. In any other build `point` is empty.

/// The points, in the order `create` passes them.
pub const POINTS: &[&str] = &[
    "claimed", "launcher", "planned", "launched", "cgroups", "pid", "ready",
];

#[cfg(all(feature = "fault-injection", debug_assertions))]
pub fn point(name: &str) {
    if refused(name) {
        // SAFETY: signalling ourselves.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
}

#[cfg(not(all(feature = "fault-injection", debug_assertions)))]
#[inline(always)]
pub fn point(_name: &str) {}

/// Test-only refusals: with the `fault-injection` feature in a debug build, a process whose
/// `BVISOR_FAULT` names `what` behaves as if the machine refused it, so a test can prove the
/// fallback too (tests/hostile.rs runs the binary-overwrite attack against both exec images).
#[cfg(all(feature = "fault-injection", debug_assertions))]
pub fn refused(what: &str) -> bool {
    std::env::var("BVISOR_FAULT").is_ok_and(|v| v == what)
}

#[cfg(not(all(feature = "fault-injection", debug_assertions)))]
#[inline(always)]
pub fn refused(_what: &str) -> bool {
    false
}
