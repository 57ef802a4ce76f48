//! OCI wasm artifacts: an image whose config is `application/vnd.wasm.config.v0+json` and whose
//! layers are wasm modules (`application/wasm`) has no filesystem for containerd to unpack, so
//! the task arrives with an empty rootfs. The shim then reads the container's image from
//! containerd (its API on the `-address` socket), takes the wasm layers from the content store
//! and writes them into the bundle's rootfs, where bvisor's wasm dispatch finds the module as
//! `process.args[0]`.

use containerd_client::services::v1::{
    containers_client::ContainersClient, content_client::ContentClient,
    images_client::ImagesClient, GetContainerRequest, GetImageRequest, ReadContentRequest,
};
use containerd_client::tonic::{transport::Channel, Request};
use containerd_client::with_namespace;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Layer media types that are wasm modules (the CNCF wasm artifact type, and the ones runwasi's
/// image builder writes).
pub const WASM_LAYER_TYPES: &[&str] = &[
    "application/wasm",
    "application/vnd.w3c.wasm.module.v1+wasm",
    "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm",
];

const INDEX_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// The wasm layers of a manifest: (digest, file name). The name is the layer's
/// `org.opencontainers.image.title` (its base name only) or `module.wasm`.
pub fn wasm_layers(manifest: &Value) -> Vec<(String, String)> {
    manifest["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| {
            l["mediaType"]
                .as_str()
                .is_some_and(|t| WASM_LAYER_TYPES.contains(&t))
        })
        .filter_map(|l| {
            let digest = l["digest"].as_str()?.to_string();
            let title = l["annotations"]["org.opencontainers.image.title"]
                .as_str()
                .and_then(|t| Path::new(t).file_name()?.to_str().map(str::to_string))
                .filter(|t| !t.is_empty() && t != "." && t != "..")
                .unwrap_or_else(|| "module.wasm".to_string());
            Some((digest, title))
        })
        .collect()
}

/// From an index, the manifest for a wasm platform (`os` wasip1/wasi or `architecture` wasm),
/// else the only one.
pub fn pick_manifest(index: &Value) -> Option<String> {
    let ms = index["manifests"].as_array()?;
    let wasm = ms.iter().find(|m| {
        let p = &m["platform"];
        matches!(p["os"].as_str(), Some("wasip1" | "wasi" | "wasip2"))
            || p["architecture"].as_str() == Some("wasm")
    });
    wasm.or(if ms.len() == 1 { ms.first() } else { None })
        .and_then(|m| m["digest"].as_str().map(str::to_string))
}

async fn read_blob(
    content: &mut ContentClient<Channel>,
    ns: &str,
    digest: &str,
) -> Result<Vec<u8>, String> {
    let req = ReadContentRequest {
        digest: digest.to_string(),
        offset: 0,
        size: 0,
    };
    let mut stream = content
        .read(with_namespace!(req, ns))
        .await
        .map_err(|e| format!("read {digest}: {}", e.message()))?
        .into_inner();
    let mut out = Vec::new();
    while let Some(chunk) = stream
        .message()
        .await
        .map_err(|e| format!("read {digest}: {}", e.message()))?
    {
        out.extend_from_slice(&chunk.data);
    }
    Ok(out)
}

/// If container `id`'s image is a wasm artifact, write its modules into `rootfs` and return
/// their paths inside it; `Ok(empty)` when the image has no wasm layers.
pub fn fetch_into(
    address: &str,
    ns: &str,
    id: &str,
    rootfs: &Path,
) -> Result<Vec<PathBuf>, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let ch = containerd_client::connect(address)
            .await
            .map_err(|e| format!("connect to containerd at {address}: {e}"))?;
        let c = ContainersClient::new(ch.clone())
            .get(with_namespace!(
                GetContainerRequest { id: id.to_string() },
                ns
            ))
            .await
            .map_err(|e| format!("container {id}: {}", e.message()))?
            .into_inner()
            .container
            .ok_or_else(|| format!("container {id}: no record"))?;
        if c.image.is_empty() {
            return Ok(Vec::new());
        }
        let image = ImagesClient::new(ch.clone())
            .get(with_namespace!(
                GetImageRequest {
                    name: c.image.clone()
                },
                ns
            ))
            .await
            .map_err(|e| format!("image {}: {}", c.image, e.message()))?
            .into_inner()
            .image
            .and_then(|i| i.target)
            .ok_or_else(|| format!("image {}: no target", c.image))?;
        let mut content = ContentClient::new(ch);
        let mut digest = image.digest.clone();
        if INDEX_TYPES.contains(&image.media_type.as_str()) {
            let index: Value = serde_json::from_slice(&read_blob(&mut content, ns, &digest).await?)
                .map_err(|e| format!("image {} index: {e}", c.image))?;
            digest = pick_manifest(&index)
                .ok_or_else(|| format!("image {}: no wasm manifest in its index", c.image))?;
        }
        let manifest: Value = serde_json::from_slice(&read_blob(&mut content, ns, &digest).await?)
            .map_err(|e| format!("image {} manifest: {e}", c.image))?;
        let mut written = Vec::new();
        for (digest, name) in wasm_layers(&manifest) {
            let bytes = read_blob(&mut content, ns, &digest).await?;
            let path = rootfs.join(&name);
            std::fs::write(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            written.push(PathBuf::from("/").join(name));
        }
        Ok(written)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_wasm_layers() {
        let m = json!({"config": {"mediaType": "application/vnd.wasm.config.v0+json"},
            "layers": [
                {"mediaType": "application/wasm", "digest": "sha256:aa",
                 "annotations": {"org.opencontainers.image.title": "../../hello.wasm"}},
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:bb"},
                {"mediaType": "application/wasm", "digest": "sha256:cc"}]});
        assert_eq!(
            wasm_layers(&m),
            vec![
                ("sha256:aa".to_string(), "hello.wasm".to_string()),
                ("sha256:cc".to_string(), "module.wasm".to_string())
            ]
        );
    }

    #[test]
    fn picks_the_wasm_manifest() {
        let i = json!({"manifests": [
            {"digest": "sha256:x", "platform": {"os": "linux", "architecture": "amd64"}},
            {"digest": "sha256:w", "platform": {"os": "wasip1", "architecture": "wasm"}}]});
        assert_eq!(pick_manifest(&i).as_deref(), Some("sha256:w"));
        let one = json!({"manifests": [{"digest": "sha256:o"}]});
        assert_eq!(pick_manifest(&one).as_deref(), Some("sha256:o"));
    }
}
