//! The container process's limits, identity and privileges, read from the host in
//! /proc/<pid>/{limits,status,oom_score_adj}, and checked by what the process can do. Each check
//! has a control: another value, or the same command without the restriction.

use bvisor_tests::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::MetadataExt;

/// (soft, hard) of a limit in /proc/<pid>/limits, by its display name.
fn limit(pid: i32, name: &str) -> Option<(String, String)> {
    let text = fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = text.lines().find(|l| l.starts_with(name))?;
    let rest: Vec<&str> = line[name.len()..].split_whitespace().collect();
    Some((rest.first()?.to_string(), rest.get(1)?.to_string()))
}

#[test]
fn rlimits_applied() {
    if !require_root() {
        return;
    }
    let h = Harness::new("rlimits_applied");
    let mut seen = Vec::new();
    for (soft, hard) in [(1024u64, 1024u64), (321, 4321)] {
        let mut b = h.bundle();
        b.process()["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": soft, "hard": hard}]);
        b.args(&["sleep", "100"]);
        let c = h.start(&b, "nofile");
        let got = limit(c.pid, "Max open files").expect("limits line");
        assert_eq!(got, (soft.to_string(), hard.to_string()), "pid {}", c.pid);
        seen.push(got);
        h.delete_force(&c.id);
    }
    // The two configs gave two different limits: the value comes from the config.
    assert_ne!(seen[0], seen[1]);
    // And the limit holds: with NOFILE 8 the shell cannot open a 9th descriptor.
    let mut b = h.bundle();
    b.process()["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 8, "hard": 8}]);
    b.sh("(exec 9</dev/null) 2>/dev/null && echo opened9 || echo refused9");
    let out = h.output_of(&b, "eight");
    assert!(
        out.contains("refused9"),
        "fd 9 opened under RLIMIT_NOFILE 8: {out}"
    );
    let mut b = h.bundle();
    b.process()["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 64, "hard": 64}]);
    b.sh("(exec 9</dev/null) 2>/dev/null && echo opened9 || echo refused9");
    let out = h.output_of(&b, "sixtyfour");
    assert!(
        out.contains("opened9"),
        "control: fd 9 refused under 64: {out}"
    );
}

#[test]
fn oom_score_adj_applied() {
    if !require_root() {
        return;
    }
    let h = Harness::new("oom_score_adj_applied");
    let read = |pid: i32| {
        fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
            .expect("oom_score_adj")
            .trim()
            .parse::<i32>()
            .expect("number")
    };
    let mine = read(std::process::id() as i32);
    // Positive values only: lowering below the current minimum needs CAP_SYS_RESOURCE, which
    // not every test machine's root has (the runtime then fails the step, as it should).
    for v in [345, 999] {
        assert_ne!(v, mine);
        let mut b = h.bundle();
        b.process()["oomScoreAdj"] = json!(v);
        b.args(&["sleep", "100"]);
        let c = h.start(&b, "oom");
        assert_eq!(read(c.pid), v);
        h.delete_force(&c.id);
    }
    // Control: without oomScoreAdj the container inherits the runtime's (our) value.
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "nooom");
    assert_eq!(read(c.pid), mine);
}

fn ids(pid: i32, field: &str) -> Vec<u32> {
    status_field(pid, field)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect()
}

#[test]
fn user_and_groups_applied() {
    if !require_root() {
        return;
    }
    let h = Harness::new("user_and_groups_applied");
    let mut b = h.bundle();
    b.process()["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 6]});
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "user");
    assert_eq!(
        ids(c.pid, "Uid"),
        vec![1000; 4],
        "real, effective, saved, fs uid"
    );
    assert_eq!(
        ids(c.pid, "Gid"),
        vec![1000; 4],
        "real, effective, saved, fs gid"
    );
    assert_eq!(ids(c.pid, "Groups"), vec![5, 6]);
    h.delete_force(&c.id);

    // Control: the default user is root with no supplementary groups.
    let mut b = h.bundle();
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "root");
    assert_eq!(ids(c.pid, "Uid"), vec![0; 4]);
    assert_eq!(ids(c.pid, "Gid"), vec![0; 4]);
    assert_eq!(ids(c.pid, "Groups"), Vec::<u32>::new());

    // Files made by uid 1000 are owned by 1000 on disk.
    let mut b = h.bundle();
    b.config["root"]["readonly"] = json!(false);
    b.process()["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 6]});
    b.sh("touch /tmp/owned");
    h.output_of(&b, "file");
    let m = fs::metadata(b.host_path("/tmp/owned")).expect("file on disk");
    assert_eq!((m.uid(), m.gid()), (1000, 1000));
}

fn cap(pid: i32, field: &str) -> u64 {
    let v = status_field(pid, field).unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"));
    u64::from_str_radix(&v, 16).unwrap_or_else(|_| panic!("{field}: {v}"))
}

#[test]
fn capabilities_exact() {
    if !require_root() {
        return;
    }
    let h = Harness::new("capabilities_exact");

    // A non-root process keeps exactly its inheritable and ambient sets across execve;
    // permitted and effective become the ambient set (no file capabilities on busybox).
    let bnd = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
    ];
    let amb = ["CAP_CHOWN", "CAP_KILL"];
    let mut b = h.bundle();
    b.process()["user"] = json!({"uid": 1000, "gid": 1000});
    b.process()["capabilities"] = json!({
        "bounding": bnd, "effective": amb, "permitted": amb, "inheritable": amb, "ambient": amb,
    });
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "nonroot");
    assert_eq!(cap(c.pid, "CapBnd"), cap_mask(&bnd), "CapBnd");
    assert_eq!(cap(c.pid, "CapInh"), cap_mask(&amb), "CapInh");
    assert_eq!(cap(c.pid, "CapPrm"), cap_mask(&amb), "CapPrm");
    assert_eq!(cap(c.pid, "CapEff"), cap_mask(&amb), "CapEff");
    assert_eq!(cap(c.pid, "CapAmb"), cap_mask(&amb), "CapAmb");
    h.delete_force(&c.id);

    // Root: every set the config names, exactly.
    let set = [
        "CAP_AUDIT_WRITE",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETUID",
    ];
    let mut b = h.bundle();
    b.process()["capabilities"] = json!({
        "bounding": set, "effective": set, "permitted": set, "inheritable": set, "ambient": set,
    });
    b.args(&["sleep", "100"]);
    let c = h.start(&b, "root");
    for f in ["CapBnd", "CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(cap(c.pid, f), cap_mask(&set), "{f}");
    }
    h.delete_force(&c.id);

    // By function: without CAP_CHOWN root cannot give a file away; with it, it can. The
    // result is read from the file on disk.
    let script = "touch /tmp/f; chown 1 /tmp/f; echo rc=$?";
    let without = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let with = [
        "CAP_AUDIT_WRITE",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_CHOWN",
    ];
    let mut owners = Vec::new();
    for caps in [&without[..], &with[..]] {
        let mut b = h.bundle();
        b.config["root"]["readonly"] = json!(false);
        b.process()["capabilities"] = json!({
            "bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps,
            "ambient": caps,
        });
        b.sh(script);
        let out = h.output_of(&b, "chown");
        let uid = fs::metadata(b.host_path("/tmp/f"))
            .expect("file on disk")
            .uid();
        owners.push((out.trim().to_string(), uid));
    }
    assert_eq!(
        owners[0].1, 0,
        "chown worked without CAP_CHOWN: {:?}",
        owners[0]
    );
    assert_ne!(owners[0].0, "rc=0");
    assert_eq!(
        owners[1].1, 1,
        "control: chown failed with CAP_CHOWN: {:?}",
        owners[1]
    );
    assert_eq!(owners[1].0, "rc=0");
}

#[test]
fn no_new_privileges_set() {
    if !require_root() {
        return;
    }
    let h = Harness::new("no_new_privileges_set");
    for (nnp, want) in [(true, "1"), (false, "0")] {
        let mut b = h.bundle();
        b.process()["noNewPrivileges"] = json!(nnp);
        b.args(&["sleep", "100"]);
        let c = h.start(&b, if nnp { "nnp" } else { "nonnp" });
        assert_eq!(
            status_field(c.pid, "NoNewPrivs").as_deref(),
            Some(want),
            "noNewPrivileges {nnp}"
        );
        h.delete_force(&c.id);
    }
}

/// CPUs of a `Cpus_allowed_list` value such as `0-1,3`.
fn cpu_list(text: &str) -> Vec<usize> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = (a.trim().parse().unwrap(), b.trim().parse().unwrap());
        cpus.extend(a..=b);
    }
    cpus
}

/// The `Cpus_allowed_list` a container's workload prints for itself.
fn workload_cpus(out: &str) -> Vec<usize> {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap_or_else(|| panic!("no Cpus_allowed_list in {out:?}"));
    cpu_list(line)
}

/// The workload may run on exactly the CPUs its caller may. bvisor keeps its launcher off the
/// runtime's own CPU while both start (so they run side by side) and gives the launcher back
/// the caller's CPUs before it clones the container: without that, the workload would inherit
/// one CPU fewer. Control: a caller pinned to one CPU gets a workload pinned to that CPU, so
/// the list read inside is the caller's, not simply the machine's.
#[test]
fn the_workload_runs_on_its_callers_cpus() {
    if !require_root() {
        return;
    }
    let h = Harness::new("callers_cpus");
    let mine = cpu_list(&status_field(std::process::id() as i32, "Cpus_allowed_list").unwrap());
    let mut b = h.bundle();
    b.sh("grep Cpus_allowed_list /proc/self/status");
    assert_eq!(workload_cpus(&h.output_of(&b, "all")), mine);
    if mine.len() < 2 {
        eprintln!("note: this caller may use one CPU only, so the launcher was never moved");
    }

    let one = *mine.last().unwrap();
    b.save();
    let id = h.id("pinned");
    let mut cmd = std::process::Command::new(bvisor_bin());
    cmd.arg("--root")
        .arg(&h.root)
        .args(["run", "--bundle"])
        .arg(&b.dir)
        .arg(&id)
        .stdin(std::process::Stdio::null());
    // SAFETY: only async-signal-safe calls (CPU_SET on a local set, sched_setaffinity) between
    // fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(one, &mut set);
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("run bvisor pinned to one CPU");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        workload_cpus(&String::from_utf8_lossy(&out.stdout)),
        vec![one]
    );
}
