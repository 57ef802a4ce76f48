//! `bvisor spec`: write a starting config.json, as `runc spec` does.

use super::Global;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct SpecArgs {
    /// Directory to write config.json in
    #[arg(long, short = 'b', default_value = ".")]
    pub bundle: PathBuf,
    /// A config for a rootless container (user namespace mapping the caller to root)
    #[arg(long)]
    pub rootless: bool,
}

/// The default config: runc's, so bundles move between the two unchanged.
pub const DEFAULT: &str = include_str!("default-config.json");

pub fn default_spec(rootless: bool) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(DEFAULT).expect("embedded config parses");
    if rootless {
        // SAFETY: getuid/getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let linux = &mut v["linux"];
        linux["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .retain(|n| n["type"] != "network");
        linux["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .push(serde_json::json!({"type": "user"}));
        linux["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        if let Some(o) = linux.as_object_mut() {
            o.remove("resources");
        }
        for m in v["mounts"].as_array_mut().expect("mounts") {
            if m["destination"] == "/sys" {
                *m = serde_json::json!({"destination": "/sys", "type": "none", "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            }
            if let Some(opts) = m["options"].as_array_mut() {
                opts.retain(|o| o != "gid=5");
            }
        }
    }
    v
}

pub fn run(_g: &Global, a: &SpecArgs) -> anyhow::Result<i32> {
    let path = a.bundle.join("config.json");
    if path.exists() {
        anyhow::bail!("{}: file already exists", path.display());
    }
    let text = serde_json::to_string_pretty(&default_spec(a.rootless))?;
    std::fs::write(&path, text + "\n").map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::default_spec;

    #[test]
    fn default_config_is_a_valid_spec() {
        for rootless in [false, true] {
            let v = default_spec(rootless);
            let s: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
            assert_eq!(
                s.process().as_ref().unwrap().args().as_ref().unwrap()[0],
                "sh"
            );
        }
    }
}
