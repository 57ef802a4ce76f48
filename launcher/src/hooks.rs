//! Hooks the launcher runs itself (createContainer, startContainer).

use crate::sys::{self, SysResult};
use bvisor_launcher::{hook, Hook};

pub fn run_all(hooks: &[Hook], state: &str, kind: &str) -> SysResult<()> {
    for (i, h) in hooks.iter().enumerate() {
        hook::run(h, state).map_err(|(errno, why)| sys::SysError {
            what: format!("{kind} hook {i} ({}): {why}", h.path),
            errno,
        })?;
    }
    Ok(())
}
