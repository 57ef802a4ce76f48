//! `containerd-shim-bvisor-v2`: containerd's runtime v2 shim for bvisor
//! (`io.containerd.bvisor.v2`), built on the `bvisor` library (not on its CLI).
//!
//! The `containerd-shim` crate runs the ttrpc server, makes this process the subreaper of the
//! container processes and reaps every child on SIGCHLD, publishing each exit on its monitor;
//! [`Service::watch_exits`] turns those into task state and `/tasks/exit` events. Containers are
//! made by `bvisor::container::{create, start, exec, kill, delete, pause}` with the container's
//! stdio on containerd's FIFOs. One shim process serves every container of a pod (grouped by the
//! CRI sandbox id annotation), as containerd's runc v2 shim does.
//!
//! Not supported (refused with a clear error, never pretended): checkpoint; and OCI hooks, whose library runner waits for its own children while this
//! process's reaper reaps them.

mod artifact;
mod console;
mod metrics;
mod stdio;

use containerd_shim as shim;
use shim::monitor::{monitor_subscribe, Subject, Topic};
use shim::protos::events::task as ev;
use shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use shim::protos::protobuf::MessageDyn;
use shim::synchronous::publisher::RemotePublisher;
use shim::{api, Config, DeleteResponse, ExitSignal, Flags, TtrpcContext, TtrpcResult};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

const RUNTIME_ID: &str = "io.containerd.bvisor.v2";

/// A process of a task: the container's init or an exec'd one.
#[derive(Default)]
struct Proc {
    pid: i32,
    /// (exit status, when) once reaped.
    exit: Option<(u32, Timestamp)>,
    stdin: String,
    stdout: String,
    stderr: String,
    /// An exec'd process not started yet: its spec.
    spec: Option<oci_spec::runtime::Process>,
    /// The pty master of a process with a terminal (for resize).
    console: Option<Arc<std::os::fd::OwnedFd>>,
    terminal: bool,
}

struct Container {
    bundle: PathBuf,
    init: Proc,
    execs: HashMap<String, Proc>,
    /// containerd handed us rootfs mounts, mounted at `<bundle>/rootfs`.
    rootfs_mounted: bool,
    /// The rootfs holds a wasm artifact's modules we wrote (removed at delete: containerd
    /// removes only an empty rootfs directory).
    artifact: bool,
}

impl Container {
    /// The init (empty exec id) or the exec'd process `exec_id`.
    fn process(&self, exec_id: &str) -> TtrpcResult<&Proc> {
        if exec_id.is_empty() {
            return Ok(&self.init);
        }
        self.execs
            .get(exec_id)
            .ok_or_else(|| not_found(&format!("exec {exec_id}")))
    }
}

#[derive(Default)]
struct Tasks {
    containers: HashMap<String, Container>,
    /// Exits of pids not (yet) known: an exec'd process can exit before `exec` returns its pid.
    early: HashMap<i32, (u32, Timestamp)>,
}

struct Inner {
    exit: ExitSignal,
    namespace: String,
    /// containerd's gRPC socket (for wasm artifacts' content).
    address: String,
    /// bvisor's state root for this namespace.
    root: PathBuf,
    tasks: Mutex<Tasks>,
    changed: Condvar,
    publisher: Mutex<Option<RemotePublisher>>,
}

#[derive(Clone)]
struct Service(Arc<Inner>);

fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut t = Timestamp::new();
    t.seconds = d.as_secs() as i64;
    t.nanos = d.subsec_nanos() as i32;
    t
}

fn err(msg: impl std::fmt::Display) -> shim::protos::ttrpc::Error {
    shim::protos::ttrpc::Error::RpcStatus(shim::protos::ttrpc::get_status(
        shim::protos::ttrpc::Code::UNKNOWN,
        msg.to_string(),
    ))
}

fn not_found(what: &str) -> shim::protos::ttrpc::Error {
    shim::protos::ttrpc::Error::RpcStatus(shim::protos::ttrpc::get_status(
        shim::protos::ttrpc::Code::NOT_FOUND,
        format!("{what}: not found"),
    ))
}

fn unsupported(what: &str) -> shim::protos::ttrpc::Error {
    shim::protos::ttrpc::Error::RpcStatus(shim::protos::ttrpc::get_status(
        shim::protos::ttrpc::Code::UNIMPLEMENTED,
        format!("{what} is not supported by bvisor"),
    ))
}

impl Service {
    fn publish(&self, topic: &str, event: Box<dyn MessageDyn>) {
        if let Some(p) = self.0.publisher.lock().unwrap().as_ref() {
            let ctx = shim::protos::ttrpc::context::Context::default();
            if let Err(e) = p.publish(ctx, topic, &self.0.namespace, event) {
                log::warn!("publish {topic}: {e}");
            }
        }
    }

    /// Record every reaped child: a container's init or exec'd process gets its exit status and
    /// a `/tasks/exit` event; waiters wake.
    fn watch_exits(self) {
        let sub = match monitor_subscribe(Topic::Pid) {
            Ok(s) => s,
            Err(e) => {
                log::error!("subscribe to exits: {e}");
                return;
            }
        };
        while let Ok(e) = sub.rx.recv() {
            let Subject::Pid(pid) = e.subject else {
                continue;
            };
            let status = e.exit_code as u32;
            let at = now();
            let mut t = self.0.tasks.lock().unwrap();
            let mut hit = None;
            for (cid, c) in t.containers.iter_mut() {
                if c.init.pid == pid && c.init.exit.is_none() {
                    c.init.exit = Some((status, at.clone()));
                    hit = Some((cid.clone(), cid.clone()));
                    break;
                }
                if let Some((xid, p)) = c
                    .execs
                    .iter_mut()
                    .find(|(_, p)| p.pid == pid && p.exit.is_none())
                {
                    p.exit = Some((status, at.clone()));
                    hit = Some((cid.clone(), xid.clone()));
                    break;
                }
            }
            if hit.is_none() {
                t.early.insert(pid, (status, at.clone()));
            }
            drop(t);
            self.0.changed.notify_all();
            if let Some((container_id, id)) = hit {
                self.publish(
                    "/tasks/exit",
                    Box::new(ev::TaskExit {
                        container_id,
                        id,
                        pid: pid as u32,
                        exit_status: status,
                        exited_at: Some(at).into(),
                        ..Default::default()
                    }),
                );
            }
        }
    }

    fn with<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Container) -> TtrpcResult<T>,
    ) -> TtrpcResult<T> {
        let mut t = self.0.tasks.lock().unwrap();
        match t.containers.get_mut(id) {
            Some(c) => f(c),
            None => Err(not_found(&format!("container {id}"))),
        }
    }

    /// A task without rootfs mounts whose rootfs is empty may be an OCI wasm artifact: its
    /// modules come from containerd's content store into the rootfs, and `process.args[0]`
    /// becomes the absolute path of the module it names (or of the first module when it names
    /// none); the rest of the args stay the module's. Returns whether the rootfs was filled.
    fn wasm_artifact(&self, id: &str, bundle: &Path) -> TtrpcResult<bool> {
        let rootfs = bundle.join("rootfs");
        let empty = std::fs::read_dir(&rootfs).map_or(true, |mut d| d.next().is_none());
        if !empty {
            return Ok(false);
        }
        std::fs::create_dir_all(&rootfs).map_err(err)?;
        let modules = artifact::fetch_into(&self.0.address, &self.0.namespace, id, &rootfs)
            .map_err(|e| err(format!("wasm artifact: {e}")))?;
        let Some(first) = modules.first() else {
            return Ok(false);
        };
        let path = bundle.join("config.json");
        let mut spec: serde_json::Value = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| err(format!("{}: unreadable", path.display())))?;
        let args = &mut spec["process"]["args"];
        // args[0] names one of the modules (as `hello.wasm` or `/hello.wasm`), else the first.
        let named = args[0].as_str().and_then(|a| {
            let a = Path::new("/").join(a.trim_start_matches('/'));
            modules.iter().find(|m| **m == a)
        });
        let module = serde_json::json!(named.unwrap_or(first).to_string_lossy());
        let mut v = args.as_array().cloned().unwrap_or_default();
        match v.first_mut() {
            Some(a0) => *a0 = module,
            None => v.push(module),
        }
        *args = serde_json::Value::Array(v);
        std::fs::write(&path, serde_json::to_vec(&spec).map_err(err)?).map_err(err)?;
        Ok(true)
    }

    fn unmount_rootfs(bundle: &Path) {
        let target = bundle.join("rootfs");
        if let Ok(c) = std::ffi::CString::new(target.as_os_str().as_encoded_bytes()) {
            // SAFETY: a valid path; detaching a mount we made.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

impl shim::Shim for Service {
    type T = Service;

    fn new(_runtime_id: &str, args: &Flags, _config: &mut Config) -> Self {
        Service(Arc::new(Inner {
            exit: ExitSignal::default(),
            namespace: args.namespace.clone(),
            address: args.address.clone(),
            root: Path::new("/run/containerd/bvisor").join(&args.namespace),
            tasks: Mutex::new(Tasks::default()),
            changed: Condvar::new(),
            publisher: Mutex::new(None),
        }))
    }

    fn start_shim(&mut self, opts: shim::StartOpts) -> Result<String, shim::Error> {
        // One shim per pod: containers of a CRI sandbox share the sandbox's shim.
        let grouping = std::fs::read_to_string("config.json")
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| {
                v["annotations"]["io.kubernetes.cri.sandbox-id"]
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_else(|| opts.id.clone());
        let (_pid, address) = shim::spawn(opts, &grouping, Vec::new())?;
        // containerd 1.6 reads a bare address from `start`; the crate would answer with the
        // JSON (or protobuf) reply of newer containerds, which 1.6 tries to dial as a path.
        // Newer containerds accept the bare address too (as task API v2).
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(address.as_bytes());
        let _ = out.flush();
        std::process::exit(0)
    }

    fn delete_shim(&mut self) -> Result<DeleteResponse, shim::Error> {
        // containerd cleans up after a dead shim: the task's id is the bundle's name.
        let bundle = std::env::current_dir().unwrap_or_default();
        if let Some(id) = bundle.file_name().and_then(|n| n.to_str()) {
            if let Err(e) = bvisor::container::delete(&self.0.root, id, true) {
                log::warn!("delete {id}: {e}");
            }
        }
        Service::unmount_rootfs(&bundle);
        let mut r = DeleteResponse::new();
        r.exit_status = 128 + libc::SIGKILL as u32;
        r.exited_at = Some(now()).into();
        Ok(r)
    }

    fn wait(&mut self) {
        self.0.exit.wait();
    }

    fn create_task_service(&self, publisher: RemotePublisher) -> Self::T {
        *self.0.publisher.lock().unwrap() = Some(publisher);
        let s = self.clone();
        std::thread::spawn(move || s.watch_exits());
        self.clone()
    }
}

impl shim::Task for Service {
    fn create(
        &self,
        _ctx: &TtrpcContext,
        req: api::CreateTaskRequest,
    ) -> TtrpcResult<api::CreateTaskResponse> {
        if !req.checkpoint.is_empty() {
            return Err(unsupported("restoring a checkpoint"));
        }
        let bundle = PathBuf::from(&req.bundle);
        let mut mounted = false;
        if !req.rootfs.is_empty() {
            let target = bundle.join("rootfs");
            std::fs::create_dir_all(&target).map_err(err)?;
            for m in &req.rootfs {
                shim::mount::mount_rootfs(
                    Some(m.type_.as_str()),
                    Some(m.source.as_str()),
                    &m.options,
                    &target,
                )
                .map_err(|e| err(format!("mount rootfs: {e}")))?;
                mounted = true;
            }
        }
        let artifact = req.rootfs.is_empty() && self.wasm_artifact(&req.id, &bundle)?;
        let created = if req.terminal {
            // The pty slave is the process's stdio; we relay its master.
            console_listener().and_then(|l| {
                let st = bvisor::container::create(&bvisor::container::CreateOpts {
                    root: self.0.root.clone(),
                    id: req.id.clone(),
                    bundle: bundle.clone(),
                    console_socket: Some(l.path.clone()),
                    ..Default::default()
                })
                .map_err(err)?;
                let master = take_console(&l, &req.stdin, &req.stdout);
                if master.is_err() {
                    let _ = bvisor::container::delete(&self.0.root, &req.id, true);
                }
                Ok((st, Some(master?)))
            })
        } else {
            stdio::open(&req.stdin, &req.stdout, &req.stderr)
                .map_err(err)
                .and_then(|io| {
                    bvisor::container::create(&bvisor::container::CreateOpts {
                        root: self.0.root.clone(),
                        id: req.id.clone(),
                        bundle: bundle.clone(),
                        stdio: Some(stdio::raw(&io)),
                        ..Default::default()
                    })
                    .map_err(err)
                })
                .map(|st| (st, None))
        };
        let (st, console) = match created {
            Ok(st) => st,
            Err(e) => {
                if mounted {
                    Service::unmount_rootfs(&bundle);
                }
                if artifact {
                    let _ = std::fs::remove_dir_all(bundle.join("rootfs"));
                }
                return Err(e);
            }
        };
        let pid = st.pid;
        self.0.tasks.lock().unwrap().containers.insert(
            req.id.clone(),
            Container {
                bundle: bundle.clone(),
                init: Proc {
                    pid,
                    stdin: req.stdin.clone(),
                    stdout: req.stdout.clone(),
                    stderr: req.stderr.clone(),
                    console,
                    terminal: req.terminal,
                    ..Default::default()
                },
                execs: HashMap::new(),
                rootfs_mounted: mounted,
                artifact,
            },
        );
        self.publish(
            "/tasks/create",
            Box::new(ev::TaskCreate {
                container_id: req.id.clone(),
                bundle: req.bundle.clone(),
                pid: pid as u32,
                ..Default::default()
            }),
        );
        Ok(api::CreateTaskResponse {
            pid: pid as u32,
            ..Default::default()
        })
    }

    fn start(
        &self,
        _ctx: &TtrpcContext,
        req: api::StartRequest,
    ) -> TtrpcResult<api::StartResponse> {
        if req.exec_id.is_empty() {
            let pid = self.with(&req.id, |c| Ok(c.init.pid))?;
            bvisor::container::start(&self.0.root, &req.id).map_err(err)?;
            self.publish(
                "/tasks/start",
                Box::new(ev::TaskStart {
                    container_id: req.id.clone(),
                    pid: pid as u32,
                    ..Default::default()
                }),
            );
            return Ok(api::StartResponse {
                pid: pid as u32,
                ..Default::default()
            });
        }
        let (spec, paths, terminal) = self.with(&req.id, |c| {
            let p = c
                .execs
                .get_mut(&req.exec_id)
                .ok_or_else(|| not_found(&format!("exec {}", req.exec_id)))?;
            let spec = p
                .spec
                .take()
                .ok_or_else(|| err(format!("exec {} already started", req.exec_id)))?;
            Ok((
                spec,
                [p.stdin.clone(), p.stdout.clone(), p.stderr.clone()],
                p.terminal,
            ))
        })?;
        let opts = |console_socket, stdio| bvisor::container::ExecOpts {
            root: self.0.root.clone(),
            id: req.id.clone(),
            process: spec.clone(),
            console_socket,
            preserve_fds: 0,
            strict: false,
            stdio,
        };
        let (pid, console) = if terminal {
            let l = console_listener()?;
            let pid = bvisor::container::exec(&opts(Some(l.path.clone()), None)).map_err(err)?;
            (pid, Some(take_console(&l, &paths[0], &paths[1])?))
        } else {
            let io = stdio::open(&paths[0], &paths[1], &paths[2]).map_err(err)?;
            let pid = bvisor::container::exec(&opts(None, Some(stdio::raw(&io)))).map_err(err)?;
            (pid, None)
        };
        {
            let mut t = self.0.tasks.lock().unwrap();
            let early = t.early.remove(&pid);
            if let Some(p) = t
                .containers
                .get_mut(&req.id)
                .and_then(|c| c.execs.get_mut(&req.exec_id))
            {
                p.pid = pid;
                p.exit = early;
                p.console = console;
            }
        }
        self.0.changed.notify_all();
        self.publish(
            "/tasks/exec-started",
            Box::new(ev::TaskExecStarted {
                container_id: req.id.clone(),
                exec_id: req.exec_id.clone(),
                pid: pid as u32,
                ..Default::default()
            }),
        );
        Ok(api::StartResponse {
            pid: pid as u32,
            ..Default::default()
        })
    }

    fn state(
        &self,
        _ctx: &TtrpcContext,
        req: api::StateRequest,
    ) -> TtrpcResult<api::StateResponse> {
        let (bundle, pid, exit, io, started) = self.with(&req.id, |c| {
            let p = c.process(&req.exec_id)?;
            Ok((
                c.bundle.clone(),
                p.pid,
                p.exit.clone(),
                [p.stdin.clone(), p.stdout.clone(), p.stderr.clone()],
                p.spec.is_none(),
            ))
        })?;
        let status = match (&exit, req.exec_id.is_empty()) {
            (Some(_), _) => api::Status::STOPPED,
            (None, false) if !started => api::Status::CREATED,
            (None, false) => api::Status::RUNNING,
            (None, true) => match bvisor::container::status_of(&self.0.root, &req.id) {
                Ok((_, bvisor::container::Status::Created)) => api::Status::CREATED,
                Ok((_, bvisor::container::Status::Paused)) => api::Status::PAUSED,
                Ok((_, bvisor::container::Status::Stopped)) => api::Status::STOPPED,
                _ => api::Status::RUNNING,
            },
        };
        let [stdin, stdout, stderr] = io;
        let mut r = api::StateResponse {
            id: req.id.clone(),
            exec_id: req.exec_id.clone(),
            bundle: bundle.to_string_lossy().into_owned(),
            pid: pid as u32,
            status: status.into(),
            stdin,
            stdout,
            stderr,
            ..Default::default()
        };
        if let Some((code, at)) = exit {
            r.exit_status = code;
            r.exited_at = Some(at).into();
        }
        Ok(r)
    }

    fn kill(&self, _ctx: &TtrpcContext, req: api::KillRequest) -> TtrpcResult<api::Empty> {
        if req.exec_id.is_empty() {
            // A process that already exited is containerd's NotFound ("process already
            // finished"), which it tolerates when stopping a pod; any other error is real.
            let exited = self.with(&req.id, |c| Ok(c.init.exit.is_some()))?;
            if exited && !req.all {
                return Err(not_found(&format!(
                    "process of {} (already finished)",
                    req.id
                )));
            }
            return match bvisor::container::kill(&self.0.root, &req.id, req.signal as i32, req.all)
            {
                Ok(()) => Ok(api::Empty::new()),
                Err(bvisor::container::Error::NotRunning) => Err(not_found(&format!(
                    "process of {} (already finished)",
                    req.id
                ))),
                Err(e) => Err(err(e)),
            };
        }
        let pid = self.with(&req.id, |c| {
            c.execs
                .get(&req.exec_id)
                .filter(|p| p.exit.is_none() && p.pid > 0)
                .map(|p| p.pid)
                .ok_or_else(|| not_found(&format!("running exec {}", req.exec_id)))
        })?;
        // SAFETY: signalling a live child of ours (not reaped: its exit is not recorded).
        if unsafe { libc::kill(pid, req.signal as i32) } != 0 {
            return Err(err(std::io::Error::last_os_error()));
        }
        Ok(api::Empty::new())
    }

    fn exec(&self, _ctx: &TtrpcContext, req: api::ExecProcessRequest) -> TtrpcResult<api::Empty> {
        let spec = serde_json::from_slice(&req.spec.value)
            .map(|p: bvisor::spec::de::ProcessDe| p.0)
            .map_err(|e| err(format!("exec {} process spec: {e}", req.exec_id)))?;
        self.with(&req.id, |c| {
            if c.execs.contains_key(&req.exec_id) {
                return Err(err(format!("exec {} already exists", req.exec_id)));
            }
            c.execs.insert(
                req.exec_id.clone(),
                Proc {
                    stdin: req.stdin.clone(),
                    stdout: req.stdout.clone(),
                    stderr: req.stderr.clone(),
                    spec: Some(spec),
                    terminal: req.terminal,
                    ..Default::default()
                },
            );
            Ok(())
        })?;
        self.publish(
            "/tasks/exec-added",
            Box::new(ev::TaskExecAdded {
                container_id: req.id.clone(),
                exec_id: req.exec_id.clone(),
                ..Default::default()
            }),
        );
        Ok(api::Empty::new())
    }

    fn wait(&self, _ctx: &TtrpcContext, req: api::WaitRequest) -> TtrpcResult<api::WaitResponse> {
        let mut t = self.0.tasks.lock().unwrap();
        loop {
            let c = t
                .containers
                .get(&req.id)
                .ok_or_else(|| not_found(&format!("container {}", req.id)))?;
            let p = c.process(&req.exec_id)?;
            if let Some((code, at)) = &p.exit {
                return Ok(api::WaitResponse {
                    exit_status: *code,
                    exited_at: Some(at.clone()).into(),
                    ..Default::default()
                });
            }
            t = self.0.changed.wait(t).unwrap();
        }
    }

    fn delete(
        &self,
        _ctx: &TtrpcContext,
        req: api::DeleteRequest,
    ) -> TtrpcResult<api::DeleteResponse> {
        if !req.exec_id.is_empty() {
            let p = self.with(&req.id, |c| {
                c.execs
                    .remove(&req.exec_id)
                    .ok_or_else(|| not_found(&format!("exec {}", req.exec_id)))
            })?;
            let (code, at) = p.exit.unwrap_or((0, now()));
            return Ok(api::DeleteResponse {
                pid: p.pid as u32,
                exit_status: code,
                exited_at: Some(at).into(),
                ..Default::default()
            });
        }
        bvisor::container::delete(&self.0.root, &req.id, true).map_err(err)?;
        let c = self
            .0
            .tasks
            .lock()
            .unwrap()
            .containers
            .remove(&req.id)
            .ok_or_else(|| not_found(&format!("container {}", req.id)))?;
        if c.rootfs_mounted {
            Service::unmount_rootfs(&c.bundle);
        }
        if c.artifact {
            let _ = std::fs::remove_dir_all(c.bundle.join("rootfs"));
        }
        let (code, at) = c.init.exit.unwrap_or((128 + libc::SIGKILL as u32, now()));
        self.publish(
            "/tasks/delete",
            Box::new(ev::TaskDelete {
                container_id: req.id.clone(),
                pid: c.init.pid as u32,
                exit_status: code,
                exited_at: Some(at.clone()).into(),
                ..Default::default()
            }),
        );
        Ok(api::DeleteResponse {
            pid: c.init.pid as u32,
            exit_status: code,
            exited_at: Some(at).into(),
            ..Default::default()
        })
    }

    fn pids(&self, _ctx: &TtrpcContext, req: api::PidsRequest) -> TtrpcResult<api::PidsResponse> {
        let pids = bvisor::container::pids(&self.0.root, &req.id).map_err(err)?;
        Ok(api::PidsResponse {
            processes: pids
                .into_iter()
                .map(|p| shim::protos::types::task::ProcessInfo {
                    pid: p as u32,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    }

    fn pause(&self, _ctx: &TtrpcContext, req: api::PauseRequest) -> TtrpcResult<api::Empty> {
        bvisor::container::pause(&self.0.root, &req.id, true).map_err(err)?;
        self.publish(
            "/tasks/paused",
            Box::new(ev::TaskPaused {
                container_id: req.id.clone(),
                ..Default::default()
            }),
        );
        Ok(api::Empty::new())
    }

    fn resume(&self, _ctx: &TtrpcContext, req: api::ResumeRequest) -> TtrpcResult<api::Empty> {
        bvisor::container::pause(&self.0.root, &req.id, false).map_err(err)?;
        self.publish(
            "/tasks/resumed",
            Box::new(ev::TaskResumed {
                container_id: req.id.clone(),
                ..Default::default()
            }),
        );
        Ok(api::Empty::new())
    }

    fn checkpoint(
        &self,
        _ctx: &TtrpcContext,
        _req: api::CheckpointTaskRequest,
    ) -> TtrpcResult<api::Empty> {
        Err(unsupported("checkpoint"))
    }

    fn update(&self, _ctx: &TtrpcContext, req: api::UpdateTaskRequest) -> TtrpcResult<api::Empty> {
        self.with(&req.id, |_| Ok(()))?;
        // containerd sends the runtime-spec LinuxResources as JSON in an Any.
        let r: oci_spec::runtime::LinuxResources = serde_json::from_slice(&req.resources.value)
            .map_err(|e| err(format!("update {}: linux.resources: {e}", req.id)))?;
        bvisor::container::update(&self.0.root, &req.id, &r).map_err(err)?;
        Ok(api::Empty::new())
    }

    fn resize_pty(
        &self,
        _ctx: &TtrpcContext,
        req: api::ResizePtyRequest,
    ) -> TtrpcResult<api::Empty> {
        let console = self.with(&req.id, |c| Ok(c.process(&req.exec_id)?.console.clone()))?;
        if let Some(m) = console {
            console::resize(&m, req.width, req.height).map_err(err)?;
        }
        Ok(api::Empty::new())
    }

    fn close_io(&self, _ctx: &TtrpcContext, _req: api::CloseIORequest) -> TtrpcResult<api::Empty> {
        // stdin is the FIFO itself in the container: it sees EOF when containerd closes its end.
        Ok(api::Empty::new())
    }

    fn stats(
        &self,
        _ctx: &TtrpcContext,
        req: api::StatsRequest,
    ) -> TtrpcResult<api::StatsResponse> {
        self.with(&req.id, |_| Ok(()))?;
        let (_, data, _) = bvisor::container::stats(&self.0.root, &req.id).map_err(err)?;
        let data =
            data.ok_or_else(|| err(format!("{}: no cgroups of its own, no stats", req.id)))?;
        Ok(api::StatsResponse {
            stats: Some(metrics::pack(&metrics::from_stats(&data))).into(),
            ..Default::default()
        })
    }

    fn connect(
        &self,
        _ctx: &TtrpcContext,
        req: api::ConnectRequest,
    ) -> TtrpcResult<api::ConnectResponse> {
        let task_pid = self.with(&req.id, |c| Ok(c.init.pid)).unwrap_or(0);
        Ok(api::ConnectResponse {
            shim_pid: std::process::id(),
            task_pid: task_pid as u32,
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        })
    }

    fn shutdown(&self, _ctx: &TtrpcContext, _req: api::ShutdownRequest) -> TtrpcResult<api::Empty> {
        // The pod's shim stays while any of its containers does.
        if self.0.tasks.lock().unwrap().containers.is_empty() {
            self.0.exit.signal();
        }
        Ok(api::Empty::new())
    }
}

fn console_listener() -> TtrpcResult<bvisor::cli::tty::ConsoleListener> {
    bvisor::cli::tty::ConsoleListener::new().map_err(|e| err(format!("console socket: {e}")))
}

/// Take the pty master bvisor sent to `l` and start relaying it to containerd's FIFOs.
fn take_console(
    l: &bvisor::cli::tty::ConsoleListener,
    stdin: &str,
    stdout: &str,
) -> TtrpcResult<Arc<std::os::fd::OwnedFd>> {
    let master = Arc::new(
        l.receive_master()
            .map_err(|e| err(format!("console: {e}")))?,
    );
    console::relay(master.clone(), stdin, stdout).map_err(|e| err(format!("console: {e}")))?;
    Ok(master)
}

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match shim::parse(&args[1..]) {
        // `start`, `delete` and `-info` as the crate does them; serving is ours (below).
        Ok(f) if f.action.is_empty() && !f.info => {
            if let Err(e) = serve(f) {
                eprintln!("{RUNTIME_ID}: {e}");
                std::process::exit(1);
            }
        }
        _ => shim::run::<Service>(RUNTIME_ID, None),
    }
}

/// The shim server: the task service under both task API names (containerd 1.6 calls
/// `containerd.task.v2.Task`, the crate generates `containerd.task.v3.Task`; the methods are
/// the same), this process as the container processes' subreaper, and a reaper thread that
/// reports every exit on the crate's monitor (which `watch_exits` follows).
fn serve(flags: Flags) -> Result<(), String> {
    // SIGCHLD stays blocked in every thread (they inherit this mask) and is taken by the reaper
    // with sigwait. std's Command resets the mask in the processes it starts.
    // SAFETY: sigset manipulation on a local set; prctl with integer arguments.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
            return Err(format!("subreaper: {}", std::io::Error::last_os_error()));
        }
    }
    if let Err(e) = shim::logger::init(flags.debug, "info", &flags.namespace, &flags.id) {
        eprintln!("{RUNTIME_ID}: logger: {e}");
    }
    let ttrpc_address =
        std::env::var("TTRPC_ADDRESS").map_err(|e| format!("TTRPC_ADDRESS: {e}"))?;
    let publisher = RemotePublisher::new(&ttrpc_address).map_err(|e| e.to_string())?;
    let mut config = Config::default();
    let svc = <Service as shim::Shim>::new(RUNTIME_ID, &flags, &mut config);
    let task: Arc<dyn shim::protos::Task + Send + Sync> =
        Arc::new(shim::Shim::create_task_service(&svc, publisher));
    std::thread::spawn(reap);
    let mut methods = shim::protos::create_task(task.clone());
    for (k, v) in shim::protos::create_task(task) {
        methods.insert(k.replace("/containerd.task.v3.", "/containerd.task.v2."), v);
    }
    let path = flags.socket.trim_start_matches("unix://").to_string();
    if let Some(dir) = Path::new(&path).parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let listener =
        std::os::unix::net::UnixListener::bind(&path).map_err(|e| format!("bind {path}: {e}"))?;
    let mut server = shim::protos::ttrpc::Server::new()
        .add_listener(std::os::fd::IntoRawFd::into_raw_fd(listener))
        .map_err(|e| e.to_string())?
        .register_service(methods);
    server.start().map_err(|e| e.to_string())?;
    // The `start` process waits for EOF on our stdout (a pipe) to know the server is up.
    // SAFETY: dup2 of our own stdio fds.
    unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) };
    log::info!("bvisor shim serving on {path}");
    svc.0.exit.wait();
    server.shutdown();
    let _ = std::fs::remove_file(&path);
    Ok(())
}

/// Reap every child on SIGCHLD and report its exit (128 + n for a signal, as a shell does).
fn reap() {
    // SAFETY: sigset on a local; sigwait and waitpid with valid out pointers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        loop {
            let mut sig = 0;
            if libc::sigwait(&set, &mut sig) != 0 {
                continue;
            }
            loop {
                let mut status = 0;
                let pid = libc::waitpid(-1, &mut status, libc::WNOHANG);
                if pid <= 0 {
                    break;
                }
                let code = if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else if libc::WIFSIGNALED(status) {
                    128 + libc::WTERMSIG(status)
                } else {
                    continue;
                };
                let _ = shim::monitor::monitor_notify_by_pid(pid, code);
            }
        }
    }
}
