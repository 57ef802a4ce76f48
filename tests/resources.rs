//! `linux.resources`, graded by the kernel: the cgroup files of the container's own cgroup read
//! from the host, and the effect on the workload (a fork refused, an allocation killed, a
//! device open refused, the cpus a process may run on). Each deny has its control: the same
//! workload without the knob.

use bvisor_tests::*;
use serde_json::json;
use std::fs;
use std::path::PathBuf;

/// The container's cgroup directory in the v1 hierarchy holding `controller`, if this machine
/// has one (else the test is skipped with a reason, or fails under BVISOR_REQUIRE_KERNEL=1).
fn v1_dir(controller: &str, id: &str) -> Option<PathBuf> {
    cgroup_hierarchies()
        .into_iter()
        .find(|h| !h.v2 && h.controllers.iter().any(|c| c == controller))
        .map(|h| h.container_dir(id))
}

fn has_v1(controller: &str) -> bool {
    cgroup_hierarchies()
        .iter()
        .any(|h| !h.v2 && h.controllers.iter().any(|c| c == controller))
}

fn read(p: PathBuf) -> String {
    fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

/// The default capabilities lack CAP_MKNOD; the device test creates its node inside.
fn with_mknod(b: &mut Bundle) {
    let caps = json!(["CAP_MKNOD", "CAP_DAC_OVERRIDE"]);
    for set in ["bounding", "effective", "permitted"] {
        b.process()["capabilities"][set] = caps.clone();
    }
}

#[test]
fn devices_cgroup_denies_unlisted_device() {
    if !require_root() {
        return;
    }
    if !has_v1("devices") && !skip("no cgroup v1 devices hierarchy") {
        return;
    }
    let h = Harness::new("devices_cgroup_denies_unlisted_device");
    // /dev/kmsg (c 1:11) is readable by root but not among the standard devices: recreated
    // inside, opening it must be refused by the device cgroup, while /dev/null stays usable.
    // Opened for writing: that needs no capability, only the device cgroup's consent.
    let script = "mknod /dev/kmsg2 c 1 11 && ( (: > /dev/kmsg2) 2>/dev/null && echo kmsg-open || echo kmsg-denied); echo x > /dev/null && echo null-ok";
    let mut b = h.bundle();
    b.sh(script);
    with_mknod(&mut b);
    b.linux()["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    let out = h.output_of(&b, "deny");
    assert!(
        out.contains("kmsg-denied"),
        "device cgroup let it open: {out}"
    );
    assert!(out.contains("null-ok"), "standard device refused: {out}");

    // The cgroup file says so too, read from the host while a container lives.
    let mut live = h.bundle();
    live.args(&["sleep", "100"]);
    live.linux()["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    let c = h.start(&live, "live");
    let list = read(v1_dir("devices", &c.id).unwrap().join("devices.list"));
    assert!(
        !list.contains("a *:* rwm"),
        "still allows everything: {list}"
    );
    assert!(list.contains("c 1:3 rwm"), "no /dev/null rule: {list}");

    // Control: without device rules the same open works.
    let mut ctl = h.bundle();
    ctl.sh(script);
    with_mknod(&mut ctl);
    if let Some(r) = ctl.linux().as_object_mut() {
        r.remove("resources");
    }
    let out = h.output_of(&ctl, "control");
    assert!(
        out.contains("kmsg-open"),
        "control could not open /dev/kmsg2: {out}"
    );
}

#[test]
fn pids_limit_caps_forks() {
    if !require_root() {
        return;
    }
    if !has_v1("pids") && !skip("no cgroup v1 pids hierarchy") {
        return;
    }
    let h = Harness::new("pids_limit_caps_forks");
    // A failed fork ends busybox sh ("can't fork"), so reaching the echo means 10 forks worked.
    let script = "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done; echo forked-10";
    let mut b = h.bundle();
    b.sh(script);
    b.linux()["resources"] = json!({"pids": {"limit": 4}});
    let out = h.run_container(&b, "limited");
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("can't fork") && !text.contains("forked-10"),
        "10 forks under pids.max 4 all worked: {text}"
    );

    let mut live = h.bundle();
    live.args(&["sleep", "100"]);
    live.linux()["resources"] = json!({"pids": {"limit": 4}});
    let c = h.start(&live, "live");
    assert_eq!(read(v1_dir("pids", &c.id).unwrap().join("pids.max")), "4");

    let mut ctl = h.bundle();
    ctl.sh(script);
    let out = h.output_of(&ctl, "control");
    assert!(
        out.contains("forked-10"),
        "control could not start 10 processes: {out}"
    );
}

#[test]
fn cpu_knobs_reach_cgroup_files() {
    if !require_root() {
        return;
    }
    if !has_v1("cpu") && !skip("no cgroup v1 cpu hierarchy") {
        return;
    }
    let h = Harness::new("cpu_knobs_reach_cgroup_files");
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    b.linux()["resources"] = json!({"cpu": {"shares": 512, "quota": 20000, "period": 50000}});
    let c = h.start(&b, "cpu");
    let dir = v1_dir("cpu", &c.id).unwrap();
    assert_eq!(read(dir.join("cpu.shares")), "512");
    assert_eq!(read(dir.join("cpu.cfs_quota_us")), "20000");
    assert_eq!(read(dir.join("cpu.cfs_period_us")), "50000");
    // Control: a container without the knobs keeps the kernel defaults.
    let mut ctl = h.bundle();
    ctl.args(&["sleep", "100"]);
    let c2 = h.start(&ctl, "control");
    let dir2 = v1_dir("cpu", &c2.id).unwrap();
    assert_eq!(read(dir2.join("cpu.shares")), "1024");
    assert_eq!(read(dir2.join("cpu.cfs_quota_us")), "-1");
}

#[test]
fn cpuset_restricts_cpus() {
    if !require_root() {
        return;
    }
    if !has_v1("cpuset") && !skip("no cgroup v1 cpuset hierarchy") {
        return;
    }
    let h = Harness::new("cpuset_restricts_cpus");
    let script = "grep Cpus_allowed_list /proc/self/status";
    let mut b = h.bundle();
    b.sh(script);
    b.linux()["resources"] = json!({"cpu": {"cpus": "0", "mems": "0"}});
    let out = h.output_of(&b, "pinned");
    assert!(out.trim().ends_with("\t0"), "not pinned to cpu 0: {out:?}");
    let mut ctl = h.bundle();
    ctl.sh(script);
    let out = h.output_of(&ctl, "control");
    let all = read(PathBuf::from("/proc/self/status"))
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list"))
        .unwrap()
        .to_string();
    assert_eq!(out.trim(), all.trim(), "control differs from the host");
}

#[test]
fn memory_limit_kills_over_allocation() {
    if !require_root() {
        return;
    }
    if !has_v1("memory") && !skip("no cgroup v1 memory hierarchy") {
        return;
    }
    let h = Harness::new("memory_limit_kills_over_allocation");
    // dd holds a 64 MiB buffer: over a 16 MiB limit (+16 MiB swap) the kernel kills it.
    let script = "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo dd-exit=$?";
    let limit = 16 * 1024 * 1024;
    let mut b = h.bundle();
    b.sh(script);
    b.linux()["resources"] = json!({"memory": {"limit": limit, "swap": 2 * limit, "reservation": limit / 2, "swappiness": 0}});
    let out = h.output_of(&b, "limited");
    assert!(
        out.contains("dd-exit=137"),
        "64 MiB allocation under a 16 MiB limit was not killed: {out}"
    );

    let mut live = h.bundle();
    live.args(&["sleep", "100"]);
    live.linux()["resources"] = json!({"memory": {"limit": limit, "swap": 2 * limit, "reservation": limit / 2, "swappiness": 0}});
    let c = h.start(&live, "live");
    let dir = v1_dir("memory", &c.id).unwrap();
    assert_eq!(read(dir.join("memory.limit_in_bytes")), limit.to_string());
    assert_eq!(
        read(dir.join("memory.memsw.limit_in_bytes")),
        (2 * limit).to_string()
    );
    assert_eq!(
        read(dir.join("memory.soft_limit_in_bytes")),
        (limit / 2).to_string()
    );
    assert_eq!(read(dir.join("memory.swappiness")), "0");

    let mut ctl = h.bundle();
    ctl.sh(script);
    let out = h.output_of(&ctl, "control");
    assert!(
        out.contains("dd-exit=0"),
        "control allocation failed: {out}"
    );
}

/// `bvisor update` lowers pids.max on a live container: the cgroup file changes and ten forks
/// that worked before now fail. A knob without a proven mechanism (memory.kernel here) is
/// refused by field and writes nothing.
#[test]
fn update_changes_live_limits() {
    if !require_root() {
        return;
    }
    if !has_v1("pids") && !skip("no cgroup v1 pids hierarchy") {
        return;
    }
    let h = Harness::new("update_live_limits");
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    b.linux()["resources"] = json!({"pids": {"limit": 100}, "memory": {"limit": 64 << 20}});
    let c = h.start(&b, "upd");
    let pids_max = v1_dir("pids", &c.id).unwrap().join("pids.max");
    let mem_max = v1_dir("memory", &c.id).map(|d| d.join("memory.limit_in_bytes"));
    // The shell waits for its own children: orphans would stay zombies under a `sleep` init,
    // and zombies still count in pids.current.
    let forks = "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.3 & done; echo forked-10; wait";

    // Control: under pids.max 100 the ten forks work.
    let out = h.exec(&c.id, &["sh", "-c", forks]);
    assert!(out.stdout.contains("forked-10"), "control: {out}");

    // 6: the exec's own launcher and shell count too; the shell's forks fail at the limit.
    h.run(&["update", "--pids-limit", "6", "--memory", "32m", &c.id])
        .expect_ok();
    assert_eq!(read(pids_max.clone()), "6");
    if let Some(m) = &mem_max {
        assert_eq!(read(m.clone()), (32u64 << 20).to_string());
    }
    // The control's sleeps may still be alive; wait for them so only the limit counts.
    poll_true("control forks gone", POLL_TIMEOUT, || {
        cgroup_procs(&v1_dir("pids", &c.id).unwrap()).len() <= 1
    });
    let out = h.exec(&c.id, &["sh", "-c", forks]);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("can't fork") && !text.contains("forked-10"),
        "ten forks under the updated pids.max 6 all worked: {text}"
    );

    // Refused whole, by field, nothing written (pids.max keeps 50).
    h.run(&["update", "--pids-limit", "50", &c.id]).expect_ok();
    let refused = h.run_stdin(
        &["update", "-r", "-", "--pids-limit", "60", &c.id],
        r#"{"memory": {"kernel": 1048576}}"#,
    );
    assert!(!refused.ok(), "{refused}");
    assert!(
        refused.stderr.contains("linux.resources.memory.kernel"),
        "{refused}"
    );
    assert_eq!(read(pids_max), "50");
}

/// `bvisor events --stats` reports what the cgroup files hold (memory limit, pids), and the
/// streaming form reports an "oom" event when the kernel OOM-kills a process of the container
/// (ground truth: memory.oom_control's oom_kill count grew). Control: no oom event before.
#[test]
fn events_report_usage_and_oom() {
    if !require_root() {
        return;
    }
    if !has_v1("memory") && !skip("no cgroup v1 memory hierarchy") {
        return;
    }
    let h = Harness::new("events_usage_oom");
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    let limit = 32u64 << 20;
    b.linux()["resources"] =
        json!({"memory": {"limit": limit, "swap": limit}, "pids": {"limit": 20}});
    let c = h.start(&b, "ev");
    let out = h.run(&["events", "--stats", &c.id]);
    out.expect_ok();
    let ev: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("one JSON line");
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], c.id.as_str());
    let mem = v1_dir("memory", &c.id).unwrap();
    assert_eq!(
        ev["data"]["memory"]["usage"]["limit"].as_u64(),
        Some(read(mem.join("memory.limit_in_bytes")).parse().unwrap())
    );
    let pids = v1_dir("pids", &c.id).unwrap();
    assert_eq!(ev["data"]["pids"]["limit"], json!(20));
    assert_eq!(
        ev["data"]["pids"]["current"].as_u64(),
        Some(read(pids.join("pids.current")).parse().unwrap())
    );

    let oom_kills = || {
        read(mem.join("memory.oom_control"))
            .lines()
            .find_map(|l| {
                l.strip_prefix("oom_kill ")
                    .map(|v| v.parse::<u64>().unwrap())
            })
            .unwrap_or(0)
    };
    let before = oom_kills();
    let mut stream = h.spawn_bvisor(&["events", "--interval", "100ms", &c.id]);
    std::thread::sleep(std::time::Duration::from_millis(400));
    let quiet = stream.stdout_now();
    assert!(quiet.lines().any(|l| l.contains("\"stats\"")), "{quiet}");
    assert!(
        !quiet.contains("\"oom\""),
        "control: an oom event before any OOM: {quiet}"
    );
    h.exec(
        &c.id,
        &["sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1"],
    );
    poll_true("the kernel OOM-killed the hog", POLL_TIMEOUT, || {
        oom_kills() > before
    });
    stream.await_stdout("\"oom\"");
    h.delete_force(&c.id);
    let out = stream.wait();
    assert!(out.ok(), "events did not end with the container: {out}");
}

/// The whole disk (MAJ:MIN) holding `path`, for blkio rules (v1 throttles take whole disks).
fn disk_of(path: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let dev = fs::metadata(path).ok()?.dev();
    // SAFETY: major/minor are pure arithmetic on a dev_t.
    let (ma, mi) = (libc::major(dev), libc::minor(dev));
    if ma == 0 {
        return None; // tmpfs, overlay: no block device
    }
    let sys = PathBuf::from(format!("/sys/dev/block/{ma}:{mi}"));
    if sys.join("partition").exists() {
        let parent = fs::canonicalize(&sys).ok()?.parent()?.join("dev");
        return fs::read_to_string(parent)
            .ok()
            .map(|s| s.trim().to_string());
    }
    Some(format!("{ma}:{mi}"))
}

/// blkio throttles: the four rules reach the container's blkio.throttle.* files, and a 3 MiB
/// direct write under a 1 MiB/s write_bps rule takes over 1.5 s (the throttle's floor), while
/// the same write without the rule finishes well under that (control).
#[test]
fn blkio_throttle_slows_direct_writes() {
    if !require_root() {
        return;
    }
    if !has_v1("blkio") && !skip("no cgroup v1 blkio hierarchy") {
        return;
    }
    let h = Harness::new("blkio_throttle");
    let data = h.mkdir("data");
    let Some(disk) = disk_of(&data) else {
        skip("the scratch directory is not on a block device");
        return;
    };
    let (ma, mi) = disk.split_once(':').unwrap();
    let (ma, mi): (i64, i64) = (ma.parse().unwrap(), mi.parse().unwrap());
    let rule = |rate: u64| json!([{"major": ma, "minor": mi, "rate": rate}]);
    // dd prints its own timing; the shell's clock is coarse, so time from the host.
    let script =
        "dd if=/dev/zero of=/data/f bs=64k count=48 oflag=direct 2>/dev/null; echo dd-exit=$?";
    let timed = |b: &Bundle, tag: &str| {
        let t = std::time::Instant::now();
        let out = h.output_of(b, tag);
        assert!(out.contains("dd-exit=0"), "{tag}: {out}");
        t.elapsed()
    };

    let mut b = h.bundle();
    b.bind(&data, "/data", &["rw"]);
    b.sh(script);
    b.linux()["resources"] = json!({"blockIO": {
        "throttleWriteBpsDevice": rule(1 << 20),
        "throttleReadBpsDevice": rule(2 << 20),
        "throttleReadIOPSDevice": rule(1000),
        "throttleWriteIOPSDevice": rule(900)}});
    let slow = timed(&b, "throttled");

    let mut live = h.bundle();
    live.args(&["sleep", "100"]);
    live.linux()["resources"] = b.config["linux"]["resources"].clone();
    let c = h.start(&live, "live");
    let dir = v1_dir("blkio", &c.id).unwrap();
    for (file, rate) in [
        ("blkio.throttle.write_bps_device", 1u64 << 20),
        ("blkio.throttle.read_bps_device", 2 << 20),
        ("blkio.throttle.read_iops_device", 1000),
        ("blkio.throttle.write_iops_device", 900),
    ] {
        assert_eq!(read(dir.join(file)), format!("{disk} {rate}"), "{file}");
    }

    let mut ctl = h.bundle();
    ctl.bind(&data, "/data", &["rw"]);
    ctl.sh(script);
    let fast = timed(&ctl, "control");
    assert!(
        slow >= std::time::Duration::from_millis(1500),
        "3 MiB under a 1 MiB/s write throttle took only {slow:?}"
    );
    assert!(
        fast < std::time::Duration::from_millis(1500),
        "control: the unthrottled write took {fast:?}"
    );
}

/// disableOOMKiller: an allocation over the memory limit is not killed; the kernel holds the
/// container under OOM (memory.oom_control `under_oom 1`) with the process alive. Control: the
/// same allocation without it is OOM-killed (oom_kill grows, the process is gone).
#[test]
fn oom_killer_disabled_keeps_the_hog_alive() {
    if !require_root() {
        return;
    }
    if !has_v1("memory") && !skip("no cgroup v1 memory hierarchy") {
        return;
    }
    let h = Harness::new("oom_disabled");
    let limit = 16u64 << 20;
    // The hog grows a shell string: its memory is touched by user-mode copies, whose faults
    // wait out an OOM with the killer disabled. (dd reading /dev/zero faults its buffer in inside
    // read(2), where a failed charge is an EFAULT and dd exits on its own: gone, not killed.)
    let hog = ["sh", "-c", "a=x; while :; do a=$a$a; done"];
    let oom = |dir: &std::path::Path, key: &str| {
        read(dir.join("memory.oom_control"))
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!("{key} "))
                    .map(|v| v.parse::<u64>().unwrap())
            })
            .unwrap_or(0)
    };
    let start = |disable: bool, tag: &str| {
        let mut b = h.bundle();
        b.args(&["sleep", "100"]);
        b.linux()["resources"] =
            json!({"memory": {"limit": limit, "swap": limit, "disableOOMKiller": disable}});
        let c = h.start(&b, tag);
        let dir = v1_dir("memory", &c.id).unwrap();
        (c, dir)
    };

    let (c, dir) = start(true, "disabled");
    assert_eq!(oom(&dir, "oom_kill_disable"), 1);
    let pid = h.exec_detached(&c.id, &hog);
    poll_true("the container under OOM", POLL_TIMEOUT, || {
        oom(&dir, "under_oom") == 1
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        pid_alive(pid),
        "the hog was killed with the OOM killer disabled"
    );
    assert_eq!(oom(&dir, "oom_kill"), 0);
    h.delete_force(&c.id);

    let (c, dir) = start(false, "control");
    let pid = h.exec_detached(&c.id, &hog);
    poll_true("control: the hog OOM-killed", POLL_TIMEOUT, || {
        oom(&dir, "oom_kill") > 0 && !pid_alive(pid)
    });
}

/// cpu burst and idle, and the kernel TCP memory limit, reach the container's v1 cgroup files.
#[test]
fn cpu_burst_idle_and_kernel_tcp_reach_cgroup_files() {
    if !require_root() {
        return;
    }
    if (!has_v1("cpu") || !has_v1("memory")) && !skip("no cgroup v1 cpu and memory hierarchies") {
        return;
    }
    let h = Harness::new("cpu_burst_idle");
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    b.linux()["resources"] = json!({
        "cpu": {"quota": 50000, "period": 100000, "burst": 20000, "idle": 1},
        "memory": {"kernelTCP": 1 << 20}});
    let c = h.start(&b, "knobs");
    let cpu = v1_dir("cpu", &c.id).unwrap();
    assert_eq!(read(cpu.join("cpu.cfs_burst_us")), "20000");
    assert_eq!(read(cpu.join("cpu.idle")), "1");
    let mem = v1_dir("memory", &c.id).unwrap();
    assert_eq!(
        read(mem.join("memory.kmem.tcp.limit_in_bytes")),
        (1u64 << 20).to_string()
    );
    // Control: a container without the knobs has the kernel's defaults there.
    let mut ctl = h.bundle();
    ctl.args(&["sleep", "100"]);
    let c = h.start(&ctl, "defaults");
    assert_eq!(read(v1_dir("cpu", &c.id).unwrap().join("cpu.idle")), "0");
    assert_eq!(
        read(v1_dir("cpu", &c.id).unwrap().join("cpu.cfs_burst_us")),
        "0"
    );
}
