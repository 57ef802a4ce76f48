//! `bvisor-ctd-client`: create and run one task through containerd's API, for images `ctr run`
//! refuses. ctr 1.7 rejects an image whose config is `application/vnd.wasm.config.v0+json` (an
//! OCI wasm artifact) before any runtime sees it; containerd itself stores and serves such an
//! image. This client records the container with its image and the given runtime, creates the
//! task with no rootfs mounts (the runtime's shim takes the modules from the content store),
//! waits for it, prints its stdout and exits with its exit status.
//!
//! It also sends a task update (ctr has no command for it), as the CRI's
//! UpdateContainerResources does.
//!
//! ```text
//! bvisor-ctd-client run --address SOCK --namespace NS --image REF --runtime io.containerd.bvisor.v2 \
//!     --spec config.json --id ID
//! bvisor-ctd-client update --address SOCK --namespace NS --id ID --resources '{"pids":{"limit":7}}'
//! ```

use containerd_client::services::v1::container::Runtime;
use containerd_client::services::v1::{
    containers_client::ContainersClient, tasks_client::TasksClient, Container,
    CreateContainerRequest, CreateTaskRequest, DeleteContainerRequest, DeleteTaskRequest,
    StartRequest, UpdateTaskRequest, WaitRequest,
};
use containerd_client::tonic::Request;
use containerd_client::with_namespace;
use std::collections::HashMap;

const SPEC_TYPE: &str = "types.containerd.io/opencontainers/runtime-spec/1/Spec";

const RESOURCES_TYPE: &str = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";

fn usage() -> ! {
    eprintln!(
        "usage: bvisor-ctd-client run --address SOCK --namespace NS --image REF --runtime NAME --spec FILE --id ID\n       \
         bvisor-ctd-client update --address SOCK --namespace NS --id ID --resources JSON"
    );
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut a: HashMap<String, String> = HashMap::new();
    let mut it = std::env::args().skip(1);
    let cmd = it.next().unwrap_or_else(|| usage());
    while let Some(k) = it.next() {
        let Some(k) = k.strip_prefix("--") else {
            usage()
        };
        a.insert(k.to_string(), it.next().unwrap_or_else(|| usage()));
    }
    let get = |k: &str| a.get(k).cloned().unwrap_or_else(|| usage());
    let result = match cmd.as_str() {
        "run" => {
            run(
                &get("address"),
                &get("namespace"),
                &get("image"),
                &get("runtime"),
                &get("spec"),
                &get("id"),
            )
            .await
        }
        "update" => {
            update(
                &get("address"),
                &get("namespace"),
                &get("id"),
                &get("resources"),
            )
            .await
        }
        _ => usage(),
    };
    match result {
        Ok(code) => std::process::exit(code as i32),
        Err(e) => {
            eprintln!("bvisor-ctd-client: {e}");
            std::process::exit(1)
        }
    }
}

/// Tasks.Update with runtime-spec LinuxResources JSON.
async fn update(address: &str, ns: &str, id: &str, resources: &str) -> Result<u32, String> {
    let ch = containerd_client::connect(address)
        .await
        .map_err(|e| format!("connect {address}: {e}"))?;
    TasksClient::new(ch)
        .update(with_namespace!(
            UpdateTaskRequest {
                container_id: id.to_string(),
                resources: Some(prost_types::Any {
                    type_url: RESOURCES_TYPE.to_string(),
                    value: resources.as_bytes().to_vec(),
                }),
                ..Default::default()
            },
            ns
        ))
        .await
        .map_err(|e| format!("update {id}: {}", e.message()))?;
    Ok(0)
}

async fn run(
    address: &str,
    ns: &str,
    image: &str,
    runtime: &str,
    spec: &str,
    id: &str,
) -> Result<u32, String> {
    let spec = std::fs::read(spec).map_err(|e| format!("{spec}: {e}"))?;
    let ch = containerd_client::connect(address)
        .await
        .map_err(|e| format!("connect {address}: {e}"))?;
    let mut containers = ContainersClient::new(ch.clone());
    let mut tasks = TasksClient::new(ch);
    let container = Container {
        id: id.to_string(),
        image: image.to_string(),
        runtime: Some(Runtime {
            name: runtime.to_string(),
            options: None,
        }),
        spec: Some(prost_types::Any {
            type_url: SPEC_TYPE.to_string(),
            value: spec,
        }),
        ..Default::default()
    };
    containers
        .create(with_namespace!(
            CreateContainerRequest {
                container: Some(container)
            },
            ns
        ))
        .await
        .map_err(|e| format!("create container: {}", e.message()))?;
    let dir = std::env::temp_dir().join(format!("bvisor-ctd-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let (out, errf) = (dir.join("stdout"), dir.join("stderr"));
    std::fs::write(&out, b"").map_err(|e| e.to_string())?;
    std::fs::write(&errf, b"").map_err(|e| e.to_string())?;
    let result = async {
        tasks
            .create(with_namespace!(
                CreateTaskRequest {
                    container_id: id.to_string(),
                    stdout: out.to_string_lossy().into_owned(),
                    stderr: errf.to_string_lossy().into_owned(),
                    ..Default::default()
                },
                ns
            ))
            .await
            .map_err(|e| format!("create task: {}", e.message()))?;
        tasks
            .start(with_namespace!(
                StartRequest {
                    container_id: id.to_string(),
                    ..Default::default()
                },
                ns
            ))
            .await
            .map_err(|e| format!("start task: {}", e.message()))?;
        let w = tasks
            .wait(with_namespace!(
                WaitRequest {
                    container_id: id.to_string(),
                    ..Default::default()
                },
                ns
            ))
            .await
            .map_err(|e| format!("wait: {}", e.message()))?
            .into_inner();
        Ok::<u32, String>(w.exit_status)
    }
    .await;
    let _ = tasks
        .delete(with_namespace!(
            DeleteTaskRequest {
                container_id: id.to_string()
            },
            ns
        ))
        .await;
    let _ = containers
        .delete(with_namespace!(
            DeleteContainerRequest { id: id.to_string() },
            ns
        ))
        .await;
    print!("{}", std::fs::read_to_string(&out).unwrap_or_default());
    eprint!("{}", std::fs::read_to_string(&errf).unwrap_or_default());
    let _ = std::fs::remove_dir_all(&dir);
    result
}
