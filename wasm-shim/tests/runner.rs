//! The `bvisor-wasm` binary and library against ground truth: guest modules written here in WAT,
//! run by the built binary; what they print and how they end is checked against what the test
//! set up (files it wrote, the host's own /etc/passwd, the exit codes the crate documents).

use bvisor_wasm::{RunConfig, RunError};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNNER: &str = env!("CARGO_BIN_EXE_bvisor-wasm");

/// Imports, a memory and helpers shared by the test modules (same conventions as
/// bundles/wasm/hello.wat): scratch at 0..31, strings from 64, a bump heap from 1024.
const PRELUDE: &str = include_str!("wat/prelude.wat");

/// `cat PATH`: copies the file at absolute guest path argv[1] to stdout; if it cannot be opened,
/// prints `open failed: errno N` on stderr and exits 1.
const CAT: &str = include_str!("wat/cat.wat");

/// What a run of the binary left behind.
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A temp dir holding one module, `module.wat`, built from PRELUDE and `body`.
struct Module {
    dir: tempfile::TempDir,
    path: PathBuf,
}

fn module(body: &str) -> Module {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("module.wat");
    std::fs::write(&path, format!("(module {PRELUDE} {body})")).expect("write module");
    Module { dir, path }
}

/// Runs the built binary with `args`, killing it if it outlives `limit`.
fn run_for(args: &[&str], limit: Duration) -> Outcome {
    let mut child = Command::new(RUNNER)
        .args(args)
        .env_clear()
        .env("HOST_ONLY", "must-not-leak")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bvisor-wasm");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).map(|_| s)
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).map(|_| s)
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("bvisor-wasm {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Outcome {
        code: status.code().expect("exited, not signalled"),
        stdout: out_reader.join().unwrap().expect("read stdout"),
        stderr: err_reader.join().unwrap().expect("read stderr"),
    }
}

fn run(args: &[&str]) -> Outcome {
    run_for(args, Duration::from_secs(60))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// stderr is exactly one line, `bvisor-wasm: <prefix>…`, naming the module.
fn assert_one_line(o: &Outcome, prefix: &str, module: &Path) {
    let line = o.stderr.strip_suffix('\n').unwrap_or(&o.stderr);
    assert!(
        !line.contains('\n'),
        "stderr is not one line: {:?}",
        o.stderr
    );
    assert!(
        line.starts_with(&format!("bvisor-wasm: {prefix}")),
        "stderr: {line:?}"
    );
    assert!(
        line.ends_with(&format!(" in {}", module.display())),
        "stderr: {line:?}"
    );
}

#[test]
fn hello_prints_its_args_env_and_a_file_from_its_root() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("etc")).unwrap();
    std::fs::write(root.path().join("etc/greeting"), "from the test\n").unwrap();
    let hello = concat!(env!("CARGO_MANIFEST_DIR"), "/../bundles/wasm/hello.wat");
    let dir = format!("{}::/", s(root.path()));
    let o = run(&[
        "--dir",
        &dir,
        "--env",
        "GREETING=hi",
        "--env",
        "EMPTY=",
        "--env",
        "EQ=a=b",
        hello,
        "one",
        "two words",
        "",
    ]);
    assert_eq!(o.stderr, "");
    assert_eq!(o.code, 0);
    assert_eq!(
        o.stdout,
        format!(
            "hello from wasm\narg: {hello}\narg: one\narg: two words\narg: \n\
             env: GREETING=hi\nenv: EMPTY=\nenv: EQ=a=b\ngreeting: from the test\n"
        )
    );
}

#[test]
fn the_guest_sees_no_host_environment_and_no_filesystem_by_default() {
    let hello = concat!(env!("CARGO_MANIFEST_DIR"), "/../bundles/wasm/hello.wat");
    let o = run(&[hello]);
    // HOST_ONLY is in the runner's environment; the guest must not see it (nor anything else).
    assert_eq!(o.stdout, format!("hello from wasm\narg: {hello}\n"));
    assert_eq!(
        o.stderr,
        "hello: cannot open /etc/greeting: wasi errno 76\n"
    );
    assert_eq!(o.code, 1);
}

#[test]
fn cwd_reaches_the_guest_as_pwd_and_must_be_inside_a_preopen() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::create_dir_all(root.path().join("app/sub")).unwrap();
    std::fs::write(root.path().join("etc/greeting"), "g\n").unwrap();
    let hello = concat!(env!("CARGO_MANIFEST_DIR"), "/../bundles/wasm/hello.wat");
    let dir = format!("{}::/", s(root.path()));

    let o = run(&["--dir", &dir, "--cwd", "/app/sub", hello]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("\nenv: PWD=/app/sub\n"), "{}", o.stdout);

    // An explicit PWD wins over --cwd.
    let o = run(&["--dir", &dir, "--env", "PWD=/mine", "--cwd", "/app", hello]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("\nenv: PWD=/mine\n"), "{}", o.stdout);
    assert!(!o.stdout.contains("PWD=/app"), "{}", o.stdout);

    for (cwd, why) in [
        ("/missing", "No such file"),
        ("/etc/greeting", "not a directory"),
        ("app", "not an absolute path"),
    ] {
        let o = run(&["--dir", &dir, "--cwd", cwd, hello]);
        assert_eq!(o.code, bvisor_wasm::EXIT_SETUP, "{cwd}: {}", o.stderr);
        assert!(o.stderr.contains(why), "{cwd}: {}", o.stderr);
        assert_eq!(o.stdout, "", "the guest must not have run");
    }
    // No preopen at all: no working directory can exist.
    let o = run(&["--cwd", "/", hello]);
    assert_eq!(o.code, bvisor_wasm::EXIT_SETUP);
    assert!(o.stderr.contains("not under any preopened directory"));
}

#[test]
fn exit_code_passes_through() {
    let m = module(r#"(func (export "_start") (call $proc_exit (i32.const 7)))"#);
    assert_eq!(run(&[s(&m.path)]).code, 7);
    let m = module(r#"(func (export "_start"))"#);
    let o = run(&[s(&m.path)]);
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    // WASI allows only 0..126; anything else is the guest misbehaving, i.e. a trap.
    let m = module(r#"(func (export "_start") (call $proc_exit (i32.const 200)))"#);
    let o = run(&[s(&m.path)]);
    assert_eq!(o.code, bvisor_wasm::EXIT_TRAP);
    assert_one_line(&o, "trap: exit with invalid exit status", &m.path);
}

#[test]
fn a_trap_has_its_own_code_and_one_line() {
    let m = module(
        r#"(data (i32.const 64) "before\0a\00")
           (func (export "_start") (call $puts (i32.const 1) (i32.const 64)) unreachable)"#,
    );
    let o = run(&[s(&m.path)]);
    assert_eq!(o.code, bvisor_wasm::EXIT_TRAP);
    assert_eq!(o.stdout, "before\n", "output before the trap is not lost");
    assert_one_line(&o, "trap: wasm `unreachable` instruction executed", &m.path);

    let m = module(
        r#"(func (export "_start") (drop (i32.div_u (i32.const 1) (i32.load (i32.const 2000)))))"#,
    );
    let o = run(&[s(&m.path)]);
    assert_eq!(o.code, bvisor_wasm::EXIT_TRAP);
    assert_one_line(&o, "trap: integer divide by zero", &m.path);
}

#[test]
fn fuel_stops_an_infinite_loop() {
    let forever = module(r#"(func (export "_start") (loop $l (br $l)))"#);
    let o = run_for(
        &["--fuel", "1000000", s(&forever.path)],
        Duration::from_secs(30),
    );
    assert_eq!(o.code, bvisor_wasm::EXIT_OUT_OF_FUEL);
    assert_one_line(&o, "trap: out of fuel (1000000 units)", &forever.path);

    // Control: a bounded loop of 1M iterations finishes without --fuel, and with enough fuel,
    // and runs out with too little.
    let bounded = module(
        r#"(func (export "_start") (local $i i32)
             (loop $l
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br_if $l (i32.lt_u (local.get $i) (i32.const 1000000))))
             (call $put_i32 (i32.const 1) (local.get $i)))"#,
    );
    let o = run(&[s(&bounded.path)]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "1000000\n"),
        "{}",
        o.stderr
    );
    let o = run(&["--fuel", "100000000", s(&bounded.path)]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "1000000\n"),
        "{}",
        o.stderr
    );
    let o = run(&["--fuel", "1000", s(&bounded.path)]);
    assert_eq!(o.code, bvisor_wasm::EXIT_OUT_OF_FUEL);
}

#[test]
fn memory_grow_past_the_cap_returns_minus_one() {
    // One page to start; grow by one page three times, printing what memory.grow returns.
    let m = module(
        r#"(func (export "_start")
             (call $put_i32 (i32.const 1) (memory.grow (i32.const 1)))
             (call $put_i32 (i32.const 1) (memory.grow (i32.const 1)))
             (call $put_i32 (i32.const 1) (memory.grow (i32.const 1)))
             (call $put_i32 (i32.const 1) (memory.size)))"#,
    );
    // Cap at three pages: two grows succeed, the third sees -1 and the guest goes on.
    let o = run(&["--max-memory", "196608", s(&m.path)]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "1\n2\n-1\n3\n"),
        "{}",
        o.stderr
    );
    // Control: without the cap every grow succeeds.
    let o = run(&[s(&m.path)]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "1\n2\n3\n4\n"),
        "{}",
        o.stderr
    );
    // A module whose initial memory is already over the cap does not load.
    let o = run(&["--max-memory", "32K", s(&m.path)]);
    assert_eq!(o.code, bvisor_wasm::EXIT_LOAD);
    assert!(
        o.stderr.contains("over the memory cap of 32768 bytes"),
        "{}",
        o.stderr
    );
    assert_eq!(o.stdout, "");
}

#[test]
fn without_a_preopen_the_guest_cannot_open_host_files() {
    let cat = module(CAT);
    let o = run(&[s(&cat.path), "/etc/passwd"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, "");
    assert_eq!(o.stderr, "open failed: errno 76\n", "ENOTCAPABLE");

    // Control: with /etc mapped the same guest reads the host's file.
    let o = run(&["--dir", "/etc::/etc", s(&cat.path), "/etc/passwd"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, std::fs::read_to_string("/etc/passwd").unwrap());
}

#[test]
fn dir_maps_a_host_directory_and_confines_the_guest_to_it() {
    let data = tempfile::tempdir().unwrap();
    let content = format!("written by the test, pid {}\n", std::process::id());
    std::fs::create_dir(data.path().join("sub")).unwrap();
    std::fs::write(data.path().join("sub/file.txt"), &content).unwrap();
    let cat = module(CAT);
    let dir = format!("{}::/data", s(data.path()));

    let o = run(&["--dir", &dir, s(&cat.path), "/data/sub/file.txt"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, content.as_str()),
        "{}",
        o.stderr
    );

    // `..` out of the preopen is refused by the host side, whatever the guest's libc does.
    let escape = format!("/data/../{}/module.wat", s(cat.dir.path()));
    let o = run(&["--dir", &dir, s(&cat.path), &escape]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert_eq!(o.stdout, "");
    // A file the guest was not given.
    let o = run(&["--dir", &dir, s(&cat.path), "/etc/passwd"]);
    assert_eq!((o.code, o.stderr.as_str()), (1, "open failed: errno 76\n"));
}

#[test]
fn load_and_setup_failures_have_their_own_codes() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("garbage.wat"), "garbage").unwrap();
    std::fs::write(path("truncated.wasm"), b"\0asm\x01\0\0\0\x01").unwrap();
    std::fs::write(
        path("import.wat"),
        r#"(module (import "env" "f" (func)) (func (export "_start")))"#,
    )
    .unwrap();
    std::fs::write(path("nostart.wat"), r#"(module (func (export "main")))"#).unwrap();
    for (name, why) in [
        ("garbage.wat", "not a wasm binary, and not valid wat"),
        ("truncated.wasm", "unexpected end"),
        ("import.wat", "(env,f)"),
        ("nostart.wat", "no `_start`"),
    ] {
        let o = run(&[s(&path(name))]);
        assert_eq!(o.code, bvisor_wasm::EXIT_LOAD, "{name}: {}", o.stderr);
        assert!(
            o.stderr.starts_with("bvisor-wasm: cannot load module "),
            "{}",
            o.stderr
        );
        assert!(o.stderr.contains(why), "{name}: {}", o.stderr);
        assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    }
    let o = run(&[s(&path("missing.wasm"))]);
    assert_eq!(o.code, bvisor_wasm::EXIT_READ);
    assert!(o.stderr.contains("cannot read module"), "{}", o.stderr);

    let nostart = path("nostart.wat");
    for args in [
        vec!["--bogus", s(&nostart)],
        vec!["--fuel", "lots", s(&nostart)],
        vec!["--dir", "/definitely/not/here::/", s(&nostart)],
        vec![],
    ] {
        let o = run(&args);
        assert_eq!(o.code, bvisor_wasm::EXIT_SETUP, "{args:?}: {}", o.stderr);
        assert!(o.stderr.starts_with("bvisor-wasm: "), "{}", o.stderr);
    }
}

#[test]
fn wasm_and_wat_run_the_same() {
    let m = module(r#"(func (export "_start") (call $proc_exit (i32.const 9)))"#);
    let text = std::fs::read_to_string(&m.path).unwrap();
    let binary = wat::parse_str(&text).unwrap();
    let wasm = m.dir.path().join("module.wasm");
    std::fs::write(&wasm, &binary).unwrap();
    assert_eq!(run(&[s(&wasm)]).code, 9);
    assert_eq!(run(&[s(&m.path)]).code, 9);
    assert!(bvisor_wasm::is_wasm_file(&wasm));
    assert!(!bvisor_wasm::is_wasm_file(&m.path));
    assert!(!bvisor_wasm::is_wasm_file(m.dir.path()));
    assert!(!bvisor_wasm::is_wasm_file(m.dir.path().join("missing")));
}

#[test]
fn library_run_reports_status_and_errors() {
    let exit = module(r#"(func (export "_start") (call $proc_exit (i32.const 5)))"#);
    let cfg = RunConfig {
        module: exit.path.clone(),
        args: vec!["exit".into()],
        ..RunConfig::default()
    };
    assert_eq!(bvisor_wasm::run(&cfg).unwrap(), 5);

    let trap = module(r#"(func (export "_start") unreachable)"#);
    let err = bvisor_wasm::run(&RunConfig {
        module: trap.path.clone(),
        ..RunConfig::default()
    })
    .unwrap_err();
    assert!(matches!(err, RunError::Trap { .. }), "{err}");
    assert_eq!(err.exit_code(), 134);

    let forever = module(r#"(func (export "_start") (loop $l (br $l)))"#);
    let err = bvisor_wasm::run(&RunConfig {
        module: forever.path.clone(),
        fuel: Some(10_000),
        ..RunConfig::default()
    })
    .unwrap_err();
    assert!(
        matches!(err, RunError::OutOfFuel { fuel: 10_000, .. }),
        "{err}"
    );
    assert_eq!(err.exit_code(), 152);
}

#[test]
fn the_sample_bundle_runs_as_the_launcher_would_run_it() {
    let bundle = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bundles/wasm");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["annotations"]["run.oci.handler"], "wasm");
    let process = &config["process"];
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let (args, env) = (strings(&process["args"]), strings(&process["env"]));
    let cwd = process["cwd"].as_str().unwrap();
    assert_eq!(args[0], "/hello.wasm");

    // The rootfs make-rootfs.sh builds, with hello.wat standing in for the compiled hello.wasm
    // (the runner takes either).
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("etc")).unwrap();
    std::fs::write(root.path().join("etc/greeting"), "from the rootfs\n").unwrap();
    std::fs::copy(bundle.join("hello.wat"), root.path().join("hello.wasm")).unwrap();

    let module = root.path().join(args[0].trim_start_matches('/'));
    let dir = format!("{}::/", s(root.path()));
    let mut cmd: Vec<&str> = vec!["--dir", &dir, "--cwd", cwd];
    for e in &env {
        cmd.extend(["--env", e]);
    }
    cmd.push("--");
    cmd.push(s(&module));
    cmd.extend(args[1..].iter().map(String::as_str));
    let o = run(&cmd);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let mut expected = format!("hello from wasm\narg: {}\n", module.display());
    for a in &args[1..] {
        expected += &format!("arg: {a}\n");
    }
    for e in &env {
        expected += &format!("env: {e}\n");
    }
    expected += &format!("env: PWD={cwd}\ngreeting: from the rootfs\n");
    assert_eq!(o.stdout, expected);
}
