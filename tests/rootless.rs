//! Rootless: an unprivileged user runs a container through a user namespace that maps only its
//! own uid and gid; what it cannot get (cgroup limits without a delegated cgroup, other id
//! ranges) is refused by field before anything exists. The unprivileged user is a bare uid
//! (`setpriv`), with copies of the binaries it can execute and an `$XDG_RUNTIME_DIR` of its own.

use bvisor_tests::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const UID: u32 = 47_113;

/// Everything the unprivileged caller needs, reachable by it: binaries, bundle, runtime dir.
struct Rootless {
    bin: PathBuf,
    xdg: PathBuf,
}

fn setup(h: &Harness) -> Rootless {
    // The harness's scratch dir and its parents must be traversable by the user.
    let mut p = h.dir.clone();
    while p != Path::new("/") {
        let m = fs::metadata(&p).unwrap().permissions().mode();
        fs::set_permissions(&p, fs::Permissions::from_mode(m | 0o111)).unwrap();
        p.pop();
    }
    let bin = h.mkdir("bin");
    let dbg = bvisor_bin();
    for name in ["bvisor", "bvisor-launcher"] {
        let src = dbg.parent().unwrap().join(name);
        fs::copy(&src, bin.join(name)).unwrap();
    }
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let xdg = h.mkdir("xdg");
    chown(&xdg, UID);
    Rootless { bin, xdg }
}

fn chown(p: &Path, uid: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(uid)).unwrap();
}

/// Run `bvisor ARGS…` as the unprivileged uid (output files in the harness's scratch dir).
fn as_user(h: &Harness, r: &Rootless, args: &[&str]) -> Out {
    let bvisor = r.bin.join("bvisor").to_string_lossy().into_owned();
    let uid = UID.to_string();
    let mut argv = vec![
        "--reuid",
        &uid,
        "--regid",
        &uid,
        "--clear-groups",
        "--",
        "env",
    ];
    let xdg = format!("XDG_RUNTIME_DIR={}", r.xdg.display());
    argv.push(&xdg);
    argv.push(&bvisor);
    argv.extend_from_slice(args);
    run_host("setpriv", &argv, &h.dir)
}

/// A bundle for the user: `bvisor spec --rootless` written by the user itself, busybox rootfs.
fn user_bundle(h: &Harness, r: &Rootless, tag: &str) -> (PathBuf, serde_json::Value) {
    let b = h.bundle();
    let dir = b.dir.join(tag);
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&b.dir, fs::Permissions::from_mode(0o755)).unwrap();
    chown(&dir, UID);
    as_user(
        h,
        r,
        &["spec", "--rootless", "--bundle", dir.to_str().unwrap()],
    )
    .expect_ok();
    let mut cfg: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    cfg["root"]["path"] = json!(b.rootfs.to_string_lossy());
    // The rootfs belongs to the host's root: mount points must exist already (the mapped user
    // cannot create them).
    fs::create_dir_all(b.rootfs.join("data")).unwrap();
    cfg["process"]["terminal"] = json!(false);
    (dir, cfg)
}

/// `run -d` of the bundle in `dir` as the unprivileged user: its output, and the init's pid from
/// the state.
fn run_detached_as_user(h: &Harness, r: &Rootless, dir: &Path, id: &str) -> (Out, i32) {
    let out = as_user(h, r, &["run", "-d", "--bundle", dir.to_str().unwrap(), id]);
    out.expect_ok();
    let st: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(r.xdg.join("bvisor").join(id).join("state.json")).unwrap(),
    )
    .unwrap();
    (out, st["pid"].as_i64().unwrap() as i32)
}

fn save(dir: &Path, cfg: &serde_json::Value) {
    let p = dir.join("config.json");
    fs::write(&p, serde_json::to_vec_pretty(cfg).unwrap()).unwrap();
    chown(&p, UID);
}

#[test]
fn rootless_run_maps_the_caller_to_root() {
    if !require_root() || !require_tool("setpriv") {
        return;
    }
    let h = Harness::new("rootless_run");
    let r = setup(&h);
    // A root-owned host file the container will try to change through a bind mount.
    let data = h.mkdir("data");
    fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(data.join("f"), "host\n").unwrap();
    let (dir, mut cfg) = user_bundle(&h, &r, "user");
    cfg["process"]["args"] = json!(["sh", "-c", "id -u; echo x >> /data/f; echo w=$?; sleep 30"]);
    cfg["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/data", "type": "bind", "source": data, "options": ["rbind", "rw"]}),
    );
    save(&dir, &cfg);
    let id = h.id("u");
    let (_, pid) = run_detached_as_user(&h, &r, &dir, &id);
    let state_dir = r.xdg.join("bvisor").join(&id);
    // Ground truth from the host: the init runs as the unprivileged uid, mapped to 0 inside.
    let uids = status_field(pid, "Uid").unwrap();
    assert_eq!(
        uids.split_whitespace().collect::<Vec<_>>(),
        vec![UID.to_string(); 4],
        "host uids of the container init"
    );
    let map = fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert_eq!(
        map.split_whitespace().collect::<Vec<_>>(),
        vec!["0".to_string(), UID.to_string(), "1".to_string()]
    );
    assert_eq!(
        fs::read_to_string(format!("/proc/{pid}/setgroups"))
            .unwrap()
            .trim(),
        "deny"
    );
    // No cgroups of its own (this machine does not delegate the caller's cgroup).
    assert_eq!(existing_container_cgroups(&id), Vec::<PathBuf>::new());
    // Root inside is not root outside: the root-owned host file is unchanged (the write is
    // attempted right after start; the container then sleeps).
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(fs::read_to_string(data.join("f")).unwrap(), "host\n");
    as_user(&h, &r, &["delete", "--force", &id]).expect_ok();
    assert!(!state_dir.exists(), "state dir left");
    assert!(!pid_alive(pid));

    // Control: the same bind and write as real root (no user namespace) changes the file.
    let mut b = h.bundle();
    b.bind(&data, "/data", &["rw"]);
    b.sh("echo x >> /data/f");
    h.output_of(&b, "root");
    assert_eq!(fs::read_to_string(data.join("f")).unwrap(), "host\nx\n");
}

#[test]
fn rootless_refuses_what_it_cannot_get() {
    if !require_root() || !require_tool("setpriv") {
        return;
    }
    let h = Harness::new("rootless_refuses");
    let r = setup(&h);
    let cases = [
        (
            json!({"memory": {"limit": 67_108_864}}),
            None,
            "linux.resources.memory.limit",
        ),
        (
            json!(null),
            Some(json!([{"containerID": 0, "hostID": 100_000, "size": 65_536}])),
            "linux.uidMappings",
        ),
    ];
    for (i, (resources, uid_map, field)) in cases.into_iter().enumerate() {
        let (dir, mut cfg) = user_bundle(&h, &r, &format!("c{i}"));
        cfg["process"]["args"] = json!(["true"]);
        if !resources.is_null() {
            cfg["linux"]["resources"] = resources;
        }
        if let Some(m) = uid_map {
            cfg["linux"]["uidMappings"] = m;
        }
        save(&dir, &cfg);
        let id = h.id(&format!("r{i}"));
        let out = as_user(&h, &r, &["create", "--bundle", dir.to_str().unwrap(), &id]);
        assert_ne!(out.code, 0, "{out}");
        assert!(out.stderr.contains(field), "{field}: {out}");
        assert!(out.stderr.contains("rootless"), "{out}");
        assert!(!r.xdg.join("bvisor").join(&id).exists(), "state dir left");
        assert_eq!(existing_container_cgroups(&id), Vec::<PathBuf>::new());
    }
    // Control: the same user without those fields runs.
    let (dir, mut cfg) = user_bundle(&h, &r, "ok");
    cfg["process"]["args"] = json!(["true"]);
    save(&dir, &cfg);
    as_user(
        &h,
        &r,
        &["run", "--bundle", dir.to_str().unwrap(), &h.id("ok")],
    )
    .expect_ok();
}

/// Append `line` to `file` for the harness's lifetime (removed again on drop, exactly that line).
fn grant(h: &Harness, file: &'static str, line: String) {
    let before = fs::read_to_string(file).unwrap_or_default();
    fs::write(file, format!("{before}{line}\n")).unwrap();
    h.on_drop("remove the subordinate id line", move || {
        let now = fs::read_to_string(file).unwrap_or_default();
        let kept: String = now
            .lines()
            .filter(|l| *l != line)
            .map(|l| format!("{l}\n"))
            .collect();
        let _ = fs::write(file, kept);
    });
}

/// An unprivileged caller whose /etc/subuid and /etc/subgid grant it a range gets a two-range
/// map (its own id as root, and 1000 subordinate ids) written by newuidmap/newgidmap: the
/// kernel's uid_map says so, and a file the container chowns to uid 1 belongs to host uid
/// 300000 (the first subordinate id). Control: without the grant the same config is refused by
/// field.
#[test]
fn rootless_multi_range_maps_use_newuidmap() {
    if !require_root() || !require_tool("setpriv") || !require_tool("newuidmap") {
        return;
    }
    let h = Harness::new("rootless_subids");
    let r = setup(&h);
    let data = h.mkdir("data");
    chown(&data, UID);
    let (dir, mut cfg) = user_bundle(&h, &r, "multi");
    cfg["process"]["args"] = json!([
        "sh",
        "-c",
        "touch /data/f && chown 1:1 /data/f; echo chown=$?; sleep 30"
    ]);
    cfg["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/data", "type": "bind", "source": data, "options": ["rbind", "rw"]}),
    );
    // chown needs CAP_CHOWN (the rootless default set has no such capability).
    for set in ["bounding", "effective", "permitted"] {
        cfg["process"]["capabilities"][set] = json!(["CAP_CHOWN"]);
    }
    let maps = json!([{"containerID": 0, "hostID": UID, "size": 1},
                      {"containerID": 1, "hostID": 300_000, "size": 1000}]);
    cfg["linux"]["uidMappings"] = maps.clone();
    cfg["linux"]["gidMappings"] = maps;
    save(&dir, &cfg);

    // Control: no grant yet, refused by field before anything exists.
    let id = h.id("nogrant");
    let out = as_user(&h, &r, &["create", "--bundle", dir.to_str().unwrap(), &id]);
    assert_ne!(out.code, 0, "{out}");
    assert!(out.stderr.contains("linux.uidMappings[1]"), "{out}");
    assert!(!r.xdg.join("bvisor").join(&id).exists());

    // newuidmap looks the caller up by name: the test user gets a passwd line too.
    if !fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(':').nth(2) == Some(&UID.to_string()))
    {
        grant(
            &h,
            "/etc/passwd",
            format!("bvt{UID}:x:{UID}:{UID}::/nonexistent:/usr/sbin/nologin"),
        );
    }
    grant(&h, "/etc/subuid", format!("{UID}:300000:1000"));
    grant(&h, "/etc/subgid", format!("{UID}:300000:1000"));
    let id = h.id("granted");
    let (started, pid) = run_detached_as_user(&h, &r, &dir, &id);
    let map: Vec<Vec<String>> = fs::read_to_string(format!("/proc/{pid}/uid_map"))
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    assert_eq!(
        map,
        vec![
            vec!["0".to_string(), UID.to_string(), "1".to_string()],
            vec!["1".to_string(), "300000".to_string(), "1000".to_string()]
        ]
    );
    let owner = || {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(data.join("f"))
            .map(|m| (m.uid(), m.gid()))
            .ok()
    };
    let deadline = std::time::Instant::now() + POLL_TIMEOUT;
    while owner() != Some((300_000, 300_000)) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        owner(),
        Some((300_000, 300_000)),
        "container output: {}",
        started.stdout_now()
    );
    as_user(&h, &r, &["delete", "--force", &id]).expect_ok();
}
