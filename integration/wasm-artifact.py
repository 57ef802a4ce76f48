#!/usr/bin/env python3
"""Write an OCI image layout holding a wasm artifact: one application/wasm layer (the module,
titled with its file name) and a config of media type application/vnd.wasm.config.v0+json, as
the CNCF wasm OCI artifact layout describes it. umoci and skopeo only build filesystem images,
so the few blobs are written here.

usage: wasm-artifact.py OUT-DIR MODULE.wasm IMAGE-NAME
"""
import hashlib
import json
import os
import sys

out, module, name = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(f"{out}/blobs/sha256", exist_ok=True)


def blob(data):
    h = hashlib.sha256(data).hexdigest()
    with open(f"{out}/blobs/sha256/{h}", "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + h, "size": len(data)}


with open(module, "rb") as f:
    wasm = blob(f.read())
config = blob(json.dumps({
    "created": "2026-01-01T00:00:00Z",
    "author": "bvisor",
    "architecture": "wasm",
    "os": "wasip1",
    "layerDigests": [wasm["digest"]],
}).encode())
manifest = blob(json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "artifactType": "application/vnd.wasm.config.v0+json",
    "config": {"mediaType": "application/vnd.wasm.config.v0+json", **config},
    "layers": [{
        "mediaType": "application/wasm",
        **wasm,
        "annotations": {"org.opencontainers.image.title": os.path.basename(module)},
    }],
}).encode())
with open(f"{out}/index.json", "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        **manifest,
        "annotations": {
            "io.containerd.image.name": name,
            "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
        },
    }]}, f)
with open(f"{out}/oci-layout", "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
