#!/usr/bin/env python3
"""Synthesizes a large berth store (an OCI layout plus berth/state.json) and a manifest for it.

Usage: make_large_store.py STORE_DIR MANIFEST_DIR [--images 5000] [--tags 20000] [--entries 1000]
                           [--ledger 5000] [--seed 11]

Shape (the defaults):
- 1,000 repositories `registry.example.com/team-TT/app-NNNN`, 5 images each, 4 tags per image
  (`1.K.0`, `1.K`, `1.K.0-amd64`, `build-K`): 5,000 images, 20,000 tags in index.json.
- Every image: an OCI manifest, a config, and 3 gzip layers: one of 50 shared base layers, one of
  250 shared runtime layers, and its own app layer. Layers are real (tiny) gzip tars, so
  `berth store verify` checks digests and sizes of every blob (15,300).
- berth/state.json: a record per image (as a pull writes it: config digest, source, repoDigests,
  created, labels, platform), layer facts for every layer, and a ledger of tag moves (5,000
  entries by default: a store that has been converging for a while).
- MANIFEST_DIR/big.yaml: 1,000 entries, 2 tags each; 950 entries name repositories in the store
  (both tags present), 50 name absent ones (planned as pulls). policy: the defaults.
- MANIFEST_DIR/big-untag.yaml: the same with `unlisted: untag` (the planner then walks every
  one of the 18,100 other tags).
Deterministic for a given seed. Prints a JSON summary.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import random
import tarfile

DOMAIN = "registry.example.com"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


class Store:
    def __init__(self, root):
        self.root = root
        self.blobs = os.path.join(root, "blobs", "sha256")
        os.makedirs(self.blobs, exist_ok=True)
        os.makedirs(os.path.join(root, "berth", "ingest"), exist_ok=True)
        self.count = 0
        self.bytes = 0

    def put(self, data):
        hexd = hashlib.sha256(data).hexdigest()
        path = os.path.join(self.blobs, hexd)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            self.count += 1
            self.bytes += len(data)
        return "sha256:" + hexd, len(data)


def tiny_layer(name, payload):
    """A gzip tar with one file: returns (blob bytes, diff_id, uncompressed size, file bytes)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo(name)
        info.size = len(payload)
        info.mode = 0o644
        info.mtime = 1700000000
        t.addfile(info, io.BytesIO(payload))
    tar = raw.getvalue()
    blob = gzip.compress(tar, compresslevel=6, mtime=0)
    return blob, "sha256:" + hashlib.sha256(tar).hexdigest(), len(tar), len(payload)


def rfc3339(t):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("manifests")
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--tags", type=int, default=20000)
    ap.add_argument("--entries", type=int, default=1000)
    ap.add_argument("--ledger", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=11)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    per_repo = 5
    tags_per_image = a.tags // a.images
    repos = a.images // per_repo
    store = Store(a.store)
    with open(os.path.join(a.store, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')

    layer_facts = {}

    def make_layer(name, payload):
        blob, diff, usize, fbytes = tiny_layer(name, payload)
        d, size = store.put(blob)
        layer_facts[d] = {"diffID": diff, "uncompressedSize": usize, "fileBytes": fbytes}
        return {"mediaType": OCI_LAYER, "digest": d, "size": size}, diff

    bases = [make_layer(f"usr/lib/os-{i}.txt", f"base {i}\n".encode() * rng.randint(50, 500)) for i in range(50)]
    runtimes = [make_layer(f"usr/lib/runtime-{i}.txt", f"runtime {i}\n".encode() * rng.randint(50, 500)) for i in range(250)]

    index = []
    images = {}
    repo_names = []
    image_tags = {}   # digest -> [refs]
    t0 = 1704067200
    for r in range(repos):
        repo = f"{DOMAIN}/team-{r % 40:02d}/app-{r:04d}"
        repo_names.append(repo)
        for k in range(per_repo):
            n = r * per_repo + k
            base, base_diff = bases[n % len(bases)]
            rt, rt_diff = runtimes[(n * 7) % len(runtimes)]
            app, app_diff = make_layer(f"opt/app/{r}/{k}/run", f"app {r} {k} {rng.random()}\n".encode() * rng.randint(5, 60))
            created = rfc3339(t0 + n * 600)
            labels = {"org.opencontainers.image.version": f"1.{k}.0", "com.example.team": f"team-{r % 40:02d}"}
            config = {
                "created": created, "architecture": "amd64", "os": "linux",
                "config": {"Cmd": ["/opt/app/run"], "Env": ["PATH=/usr/bin:/bin"], "Labels": labels},
                "rootfs": {"type": "layers", "diff_ids": [base_diff, rt_diff, app_diff]},
                "history": [{"created": created, "created_by": s} for s in ("ADD os /", "RUN install-runtime", "COPY app /opt/app")],
            }
            cfg_d, cfg_size = store.put(json.dumps(config, separators=(",", ":"), sort_keys=True).encode())
            manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": {"mediaType": OCI_CONFIG, "digest": cfg_d, "size": cfg_size},
                        "layers": [base, rt, app]}
            man_d, man_size = store.put(json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode())
            tags = [f"1.{k}.0", f"1.{k}", f"1.{k}.0-amd64", f"build-{k}"][:tags_per_image]
            refs = [f"{repo}:{t}" for t in tags]
            image_tags[man_d] = refs
            for ref in refs:
                index.append({"mediaType": OCI_MANIFEST, "digest": man_d, "size": man_size,
                              "platform": {"architecture": "amd64", "os": "linux"},
                              "annotations": {"org.opencontainers.image.ref.name": ref}})
            images[man_d] = {
                "configDigest": cfg_d, "pulledAt": rfc3339(t0 + 86400 * 30 + n), "source": refs[0],
                "repoDigests": [f"{repo}@{man_d}"], "created": created, "labels": labels,
                "platform": {"architecture": "amd64", "os": "linux"},
                "layers": [base, rt, app], "configSize": cfg_size,
            }

    # A ledger of tag moves between images of the same repository.
    digests = list(image_tags)
    ledger = []
    for i in range(a.ledger):
        d = digests[rng.randrange(len(digests))]
        other = digests[rng.randrange(len(digests))]
        ref = image_tags[d][rng.randrange(len(image_tags[d]))]
        ledger.append({"image": d, "imageID": images[d]["configDigest"], "reference": ref, "movedTo": other,
                       "at": rfc3339(t0 + i * 60), "cause": "apply", "run": f"run-{i // 20:05d}"})

    with open(os.path.join(a.store, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index},
                  f, separators=(",", ":"), sort_keys=True)
    state = {"version": 1, "images": images, "layers": layer_facts, "ledger": ledger, "runs": []}
    with open(os.path.join(a.store, "berth", "state.json"), "w") as f:
        json.dump(state, f, separators=(",", ":"), sort_keys=True)

    # The manifests: 2 tags per entry; the last 5% of entries name absent repositories.
    os.makedirs(a.manifests, exist_ok=True)
    absent = max(1, a.entries // 20)
    lines = []
    for e in range(a.entries):
        if e < a.entries - absent:
            r = (e * 997) % repos   # spread over the store
            lines.append(f'  - name: {repo_names[r]}\n    tags: ["1.4.0", "1.3"]\n')
        else:
            lines.append(f'  - name: {DOMAIN}/team-new/app-{e:04d}\n    tags: ["1.0.0", "1.0"]\n')
    head = "version: 1\nplatform: linux/amd64\nimages:\n"
    with open(os.path.join(a.manifests, "big.yaml"), "w") as f:
        f.write(head + "".join(lines))
    with open(os.path.join(a.manifests, "big-untag.yaml"), "w") as f:
        f.write(head + "".join(lines) + "policy:\n  unlisted: untag\n  dangling: keep\n")
    print(json.dumps({"images": len(images), "tags": len(index), "blobs": store.count, "blob_bytes": store.bytes,
                      "layers": len(layer_facts), "ledger": len(ledger), "entries": a.entries,
                      "desired_tags": a.entries * 2, "absent_entries": absent,
                      "index_json_bytes": os.path.getsize(os.path.join(a.store, "index.json")),
                      "state_json_bytes": os.path.getsize(os.path.join(a.store, "berth", "state.json"))}))


if __name__ == "__main__":
    main()
