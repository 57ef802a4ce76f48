//! `bvisor-cri-client`: a Kubernetes CRI client of bvisor's own (the `k8s-cri` bindings over
//! tonic on containerd's unix socket), for integration/cri.sh. It does what the kubelet does
//! through a RuntimeClass handler and grades what comes back against the host:
//!
//! ```text
//! bvisor-cri-client scenario --socket S --handler bvisor --shim containerd-shim-bvisor-v2 \
//!     --busybox IMG --wasm IMG --scratch DIR
//! bvisor-cri-client bench --socket S --handler bvisor --busybox IMG --scratch DIR --iterations N
//! ```
//!
//! `scenario` prints PASS/FAIL per case and exits 1 on any failure: Version; RunPodSandbox with
//! the handler; a busybox container writing to a host volume and exiting 7 (ContainerStatus
//! must say exit 7, reason Error; the host file must hold what it wrote); a second container
//! (ExecSync stdout and exit code; its net, ipc and uts namespaces are the sandbox's, read from
//! /proc; one shim serves the pod); ListContainers; a wasm container in the pod (its CRI log
//! holds the module's output); a container whose seccomp profile asks for SCMP_ACT_NOTIFY,
//! which bvisor does not provide, refused at StartContainer with bvisor's text;
//! Stop/RemovePodSandbox.
//! `bench` prints the median pod start (RunPodSandbox → container running) and teardown
//! (StopPodSandbox + RemovePodSandbox) latencies in ms.

use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

type Client = RuntimeServiceClient<containerd_client::tonic::transport::Channel>;
type Res<T> = Result<T, String>;

fn usage() -> ! {
    eprintln!(
        "usage: bvisor-cri-client scenario --socket S --handler H --shim NAME --busybox IMG --wasm IMG --scratch DIR\n       \
         bvisor-cri-client bench --socket S --handler H --busybox IMG --scratch DIR [--iterations N]"
    );
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut it = std::env::args().skip(1);
    let cmd = it.next().unwrap_or_else(|| usage());
    let mut a: HashMap<String, String> = HashMap::new();
    while let Some(k) = it.next() {
        let Some(k) = k.strip_prefix("--") else {
            usage()
        };
        a.insert(k.to_string(), it.next().unwrap_or_else(|| usage()));
    }
    let get = |k: &str| a.get(k).cloned().unwrap_or_else(|| usage());
    let socket = get("socket");
    let ch = match containerd_client::connect(&socket).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("connect {socket}: {e}");
            std::process::exit(1)
        }
    };
    let mut c = RuntimeServiceClient::new(ch);
    let code = match cmd.as_str() {
        "scenario" => {
            let mut r = Report::default();
            scenario(
                &mut c,
                &mut r,
                &Setup {
                    socket: socket.clone(),
                    handler: get("handler"),
                    shim: get("shim"),
                    busybox: get("busybox"),
                    wasm: get("wasm"),
                    scratch: PathBuf::from(get("scratch")),
                },
            )
            .await;
            i32::from(r.fails > 0)
        }
        "bench" => {
            let n = a
                .get("iterations")
                .and_then(|n| n.parse().ok())
                .unwrap_or(10);
            match bench(
                &mut c,
                &get("handler"),
                &get("busybox"),
                Path::new(&get("scratch")),
                n,
            )
            .await
            {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("bench: {e}");
                    1
                }
            }
        }
        _ => usage(),
    };
    std::process::exit(code)
}

struct Setup {
    socket: String,
    handler: String,
    shim: String,
    busybox: String,
    wasm: String,
    scratch: PathBuf,
}

#[derive(Default)]
struct Report {
    fails: usize,
}

impl Report {
    fn check(&mut self, name: &str, ok: bool, detail: impl std::fmt::Display) {
        if ok {
            println!("PASS {name}");
        } else {
            println!("FAIL {name}: {detail}");
            self.fails += 1;
        }
    }
}

fn pod_config(name: &str, logs: &Path) -> PodSandboxConfig {
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: name.to_string(),
            uid: format!("uid-{name}"),
            namespace: "bvisor-test".to_string(),
            attempt: 0,
        }),
        hostname: name.to_string(),
        log_directory: logs.to_string_lossy().into_owned(),
        linux: Some(LinuxPodSandboxConfig {
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: NamespaceMode::Pod as i32,
                    pid: NamespaceMode::Container as i32,
                    ipc: NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn container_config(name: &str, image: &str, command: &[&str]) -> ContainerConfig {
    ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: name.to_string(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: image.to_string(),
            ..Default::default()
        }),
        command: command.iter().map(|s| s.to_string()).collect(),
        log_path: format!("{name}.log"),
        ..Default::default()
    }
}

async fn run_pod(c: &mut Client, handler: &str, config: &PodSandboxConfig) -> Res<String> {
    Ok(c.run_pod_sandbox(RunPodSandboxRequest {
        config: Some(config.clone()),
        runtime_handler: handler.to_string(),
    })
    .await
    .map_err(|e| e.message().to_string())?
    .into_inner()
    .pod_sandbox_id)
}

async fn create_start(
    c: &mut Client,
    pod: &str,
    pod_config: &PodSandboxConfig,
    config: ContainerConfig,
) -> Res<String> {
    let id = c
        .create_container(CreateContainerRequest {
            pod_sandbox_id: pod.to_string(),
            config: Some(config),
            sandbox_config: Some(pod_config.clone()),
        })
        .await
        .map_err(|e| format!("CreateContainer: {}", e.message()))?
        .into_inner()
        .container_id;
    c.start_container(StartContainerRequest {
        container_id: id.clone(),
    })
    .await
    .map_err(|e| format!("StartContainer: {}", e.message()))?;
    Ok(id)
}

/// ContainerStatus (verbose: its `info` carries the pid).
async fn status(c: &mut Client, id: &str) -> Res<(ContainerStatus, Option<i32>)> {
    let r = c
        .container_status(ContainerStatusRequest {
            container_id: id.to_string(),
            verbose: true,
        })
        .await
        .map_err(|e| e.message().to_string())?
        .into_inner();
    let pid = pid_of(&r.info);
    Ok((r.status.ok_or("no status")?, pid))
}

fn pid_of(info: &HashMap<String, String>) -> Option<i32> {
    let v: serde_json::Value = serde_json::from_str(info.get("info")?).ok()?;
    v["pid"].as_i64().map(|p| p as i32).filter(|p| *p > 0)
}

async fn wait_state(
    c: &mut Client,
    id: &str,
    want: ContainerState,
) -> Res<(ContainerStatus, Option<i32>)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, pid) = status(c, id).await?;
        if s.state == want as i32 {
            return Ok((s, pid));
        }
        if Instant::now() > deadline {
            return Err(format!("{id}: state {} after 30 s", s.state));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ns_link(pid: i32, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Processes running `shim` for our containerd (their command line names its socket).
fn shims(shim: &str, socket: &str) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let raw = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let argv: Vec<String> = raw
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_shim = argv
            .first()
            .is_some_and(|a0| Path::new(a0).file_name().is_some_and(|n| n == shim));
        if is_shim && argv.iter().any(|a| a == socket) {
            out.push((pid, argv.join(" ")));
        }
    }
    out
}

async fn scenario(c: &mut Client, r: &mut Report, s: &Setup) {
    let h = &s.handler;
    let v = c
        .version(VersionRequest {
            version: "v1".into(),
        })
        .await;
    r.check(
        &format!("{h}/version"),
        v.as_ref()
            .is_ok_and(|v| v.get_ref().runtime_name == "containerd"),
        format!("{v:?}"),
    );

    let logs = s.scratch.join(format!("logs-{h}"));
    let data = s.scratch.join(format!("data-{h}"));
    let _ = std::fs::create_dir_all(&logs);
    let _ = std::fs::create_dir_all(&data);
    let pc = pod_config(&format!("pod-{h}"), &logs);
    let pod = match run_pod(c, h, &pc).await {
        Ok(p) => p,
        Err(e) => {
            r.check(&format!("{h}/run-pod-sandbox"), false, e);
            return;
        }
    };
    r.check(&format!("{h}/run-pod-sandbox"), true, "");
    let pod_pid = c
        .pod_sandbox_status(PodSandboxStatusRequest {
            pod_sandbox_id: pod.clone(),
            verbose: true,
        })
        .await
        .ok()
        .and_then(|p| pid_of(&p.get_ref().info));

    // A container writing to a host volume, exiting with a known code.
    let mut writer = container_config(
        "writer",
        &s.busybox,
        &["sh", "-c", "echo cri-ok > /data/out; exit 7"],
    );
    writer.mounts = vec![Mount {
        container_path: "/data".into(),
        host_path: data.to_string_lossy().into_owned(),
        ..Default::default()
    }];
    match create_start(c, &pod, &pc, writer).await {
        Ok(id) => match wait_state(c, &id, ContainerState::ContainerExited).await {
            Ok((st, _)) => {
                r.check(
                    &format!("{h}/exit-code"),
                    st.exit_code == 7 && st.reason == "Error",
                    format!("exit {} reason {:?}", st.exit_code, st.reason),
                );
                let out = std::fs::read_to_string(data.join("out")).unwrap_or_default();
                r.check(
                    &format!("{h}/volume"),
                    out.trim() == "cri-ok",
                    format!("{out:?}"),
                );
            }
            Err(e) => r.check(&format!("{h}/exit-code"), false, e),
        },
        Err(e) => r.check(&format!("{h}/create-start"), false, e),
    }

    // A long-running container: exec, shared namespaces, one shim.
    match create_start(
        c,
        &pod,
        &pc,
        container_config("sleeper", &s.busybox, &["sleep", "300"]),
    )
    .await
    {
        Ok(id) => {
            let st = wait_state(c, &id, ContainerState::ContainerRunning).await;
            let pid = st.as_ref().ok().and_then(|(_, p)| *p);
            r.check(
                &format!("{h}/running"),
                st.is_ok(),
                format!("{:?}", st.err()),
            );
            let ex = c
                .exec_sync(ExecSyncRequest {
                    container_id: id.clone(),
                    cmd: vec!["sh".into(), "-c".into(), "echo exec-ok; exit 3".into()],
                    timeout: 20,
                })
                .await
                .map(|e| e.into_inner());
            r.check(
                &format!("{h}/exec-sync"),
                ex.as_ref().is_ok_and(|e| {
                    e.exit_code == 3 && String::from_utf8_lossy(&e.stdout).trim() == "exec-ok"
                }),
                format!("{ex:?}"),
            );
            match (pid, pod_pid) {
                (Some(p), Some(pp)) => {
                    for ns in ["net", "ipc", "uts"] {
                        r.check(
                            &format!("{h}/shares-pod-{ns}"),
                            ns_link(p, ns) == ns_link(pp, ns) && !ns_link(p, ns).is_empty(),
                            format!("container {} pod {}", ns_link(p, ns), ns_link(pp, ns)),
                        );
                    }
                    r.check(
                        &format!("{h}/own-netns"),
                        ns_link(p, "net") != ns_link(1, "net"),
                        "the pod shares the host's network namespace",
                    );
                }
                _ => r.check(
                    &format!("{h}/pids"),
                    false,
                    format!("container {pid:?} pod {pod_pid:?}"),
                ),
            }
            let list = c
                .list_containers(ListContainersRequest {
                    filter: Some(ContainerFilter {
                        pod_sandbox_id: pod.clone(),
                        ..Default::default()
                    }),
                })
                .await
                .map(|l| l.into_inner().containers.len());
            r.check(
                &format!("{h}/list"),
                list.as_ref().is_ok_and(|n| *n == 2),
                format!("{list:?}"),
            );
            let sh = shims(&s.shim, &s.socket);
            r.check(
                &format!("{h}/one-shim"),
                sh.len() == 1,
                format!("{} shims: {:?}", sh.len(), sh),
            );
            let stop = c
                .stop_container(StopContainerRequest {
                    container_id: id.clone(),
                    timeout: 2,
                })
                .await;
            let st = status(c, &id).await;
            r.check(
                &format!("{h}/stop"),
                stop.is_ok()
                    && st
                        .as_ref()
                        .is_ok_and(|(s, _)| s.state == ContainerState::ContainerExited as i32),
                format!("{stop:?} {st:?}"),
            );
        }
        Err(e) => r.check(&format!("{h}/sleeper"), false, e),
    }

    // A wasm container in the same pod: its output reaches the CRI log.
    match create_start(c, &pod, &pc, container_config("wasm", &s.wasm, &[])).await {
        Ok(id) => {
            let st = wait_state(c, &id, ContainerState::ContainerExited).await;
            let log = std::fs::read_to_string(logs.join("wasm.log")).unwrap_or_default();
            r.check(
                &format!("{h}/wasm"),
                st.as_ref().is_ok_and(|(s, _)| s.exit_code == 0)
                    && log.contains("greeting: hello from the wasm bundle's rootfs"),
                format!("{st:?} log {log:?}"),
            );
        }
        Err(e) => r.check(&format!("{h}/wasm"), false, e),
    }

    // An isolation bvisor cannot provide: a seccomp profile (Localhost) whose rule hands a
    // syscall to a user-space supervisor (SCMP_ACT_NOTIFY). bvisor refuses it by field; the
    // CRI error carries that text.
    let profile = s.scratch.join(format!("notify-{h}.json"));
    let _ = std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_NOTIFY"}]}"#,
    );
    let mut notify = container_config("notify", &s.busybox, &["sleep", "300"]);
    notify.linux = Some(LinuxContainerConfig {
        security_context: Some(LinuxContainerSecurityContext {
            seccomp: Some(SecurityProfile {
                profile_type: security_profile::ProfileType::Localhost as i32,
                localhost_ref: profile.to_string_lossy().into_owned(),
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let refused = create_start(c, &pod, &pc, notify).await;
    r.check(
        &format!("{h}/refused"),
        refused.as_ref().is_err_and(|e| {
            e.contains("linux.seccomp.syscalls[0].action") && e.contains("SCMP_ACT_NOTIFY")
        }),
        format!("{refused:?}"),
    );

    let stop = c
        .stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: pod.clone(),
        })
        .await;
    let rm = c
        .remove_pod_sandbox(RemovePodSandboxRequest {
            pod_sandbox_id: pod.clone(),
        })
        .await;
    r.check(
        &format!("{h}/stop-remove-pod"),
        stop.is_ok() && rm.is_ok(),
        format!("{stop:?} {rm:?}"),
    );
    let gone = c
        .list_pod_sandbox(ListPodSandboxRequest { filter: None })
        .await
        .map(|l| l.into_inner().items.iter().any(|p| p.id == pod));
    r.check(
        &format!("{h}/pod-gone"),
        gone.is_ok_and(|g| !g),
        "still listed",
    );
}

async fn bench(c: &mut Client, handler: &str, busybox: &str, scratch: &Path, n: usize) -> Res<()> {
    let logs = scratch.join(format!("bench-logs-{handler}"));
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    let (mut start, mut down) = (Vec::new(), Vec::new());
    for i in 0..n {
        let pc = pod_config(&format!("bench-{handler}-{i}"), &logs);
        let t0 = Instant::now();
        let pod = run_pod(c, handler, &pc).await?;
        let id = create_start(
            c,
            &pod,
            &pc,
            container_config("b", busybox, &["sleep", "60"]),
        )
        .await?;
        wait_state(c, &id, ContainerState::ContainerRunning).await?;
        let t1 = Instant::now();
        c.stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: pod.clone(),
        })
        .await
        .map_err(|e| e.message().to_string())?;
        c.remove_pod_sandbox(RemovePodSandboxRequest {
            pod_sandbox_id: pod,
        })
        .await
        .map_err(|e| e.message().to_string())?;
        let t2 = Instant::now();
        start.push(t1 - t0);
        down.push(t2 - t1);
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1000.0
    };
    println!(
        "bench {handler} start_ms {:.1} teardown_ms {:.1} (median of {n})",
        median(&mut start),
        median(&mut down)
    );
    Ok(())
}
