//! `bvisor create`: create a container that waits for `start`.

use super::Global;
use crate::container::{self, CreateOpts};
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct CreateArgs {
    /// Path to the bundle (the directory holding config.json)
    #[arg(long, short = 'b', default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master when process.terminal is true
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the container init's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Enter the rootfs with MS_MOVE + chroot instead of pivot_root
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of giving the container a new one
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N more fds (3..3+N) to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Container id
    pub id: String,
}

impl CreateArgs {
    pub fn opts(&self, g: &Global) -> CreateOpts {
        CreateOpts {
            root: g.root.clone(),
            id: self.id.clone(),
            bundle: self.bundle.clone(),
            console_socket: self.console_socket.clone(),
            pid_file: self.pid_file.clone(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            strict: g.strict,
            stdio: None,
        }
    }
}

pub fn run(g: &Global, a: &CreateArgs) -> anyhow::Result<i32> {
    container::create(&a.opts(g))?;
    Ok(0)
}
