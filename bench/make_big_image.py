#!/usr/bin/env python3
"""Builds an OCI image layout holding one image with a single large gzip layer.

Usage: make_big_image.py OUT_DIR [--mb 500] [--seed 7]

The layer is a tar of files whose content mixes incompressible bytes (binaries, already
compressed assets) with text sliced from a word pool (sources, configs), so gzip sees a
realistic mix; files are added until the *compressed* layer reaches --mb megabytes (MiB). The
layout's index names the image "big" (push it with
`skopeo copy oci:OUT_DIR:big docker://HOST/bench/big:1.0`). Deterministic for a given seed.
"""
import argparse
import hashlib
import io
import json
import os
import random
import tarfile
import zlib


class GzipHashWriter:
    """File object for tarfile: digests the tar stream (diff_id), gzips it, digests and writes the gzip."""

    def __init__(self, path):
        self.out = open(path, "wb")
        self.diff = hashlib.sha256()
        self.blob = hashlib.sha256()
        self.z = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip wrapper
        self.compressed = 0
        self.uncompressed = 0

    def write(self, data):
        self.diff.update(data)
        self.uncompressed += len(data)
        self._emit(self.z.compress(data))
        return len(data)

    def _emit(self, chunk):
        if chunk:
            self.blob.update(chunk)
            self.out.write(chunk)
            self.compressed += len(chunk)

    def tell(self):
        return self.uncompressed

    def finish(self):
        self._emit(self.z.flush())
        self.out.close()


def word_pool(rng, size):
    words = ("the of and to in is for on with as by at from this that function return value error "
             "config server client request response buffer stream layer image registry manifest digest "
             "import export struct class public private static let var if else while switch case default "
             "true false nil null int string bool array map list set key path file dir user group").split()
    parts, n = [], 0
    while n < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(4, 14)))
        line = ("    " * rng.randint(0, 3)) + line + (";" if rng.random() < 0.3 else "") + "\n"
        parts.append(line)
        n += len(line)
    return "".join(parts).encode()[:size]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--mb", type=float, default=500)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    target = int(a.mb * 1048576)
    blobs = os.path.join(a.out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    tmp = os.path.join(a.out, "layer.tmp")
    pool = word_pool(rng, 4 << 20)
    w = GzipHashWriter(tmp)
    tar = tarfile.open(fileobj=w, mode="w|", format=tarfile.PAX_FORMAT)
    i = 0
    while w.compressed < target:
        size = rng.randint(256 << 10, 6 << 20)
        if rng.random() < 0.55:
            data = rng.randbytes(size)   # binaries, compressed assets
            name = f"opt/big/lib/blob{i:05d}.so"
        else:
            chunks, n = [], 0
            while n < size:
                off = rng.randrange(0, len(pool) - 65536)
                piece = pool[off:off + rng.randint(4096, 65536)]
                chunks.append(piece)
                n += len(piece)
            data = b"".join(chunks)[:size]
            name = f"opt/big/share/text{i:05d}.txt"
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        info.mtime = 1700000000
        tar.addfile(info, io.BytesIO(data))
        i += 1
    tar.close()
    w.finish()
    layer_digest = "sha256:" + w.blob.hexdigest()
    os.replace(tmp, os.path.join(blobs, w.blob.hexdigest()))
    config = {
        "created": "2024-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Labels": {"com.example.bench": "big-layer"}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + w.diff.hexdigest()]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "ADD big.tar /"}],
    }
    cfg = json.dumps(config, separators=(",", ":"), sort_keys=True).encode()
    cfg_hex = hashlib.sha256(cfg).hexdigest()
    open(os.path.join(blobs, cfg_hex), "wb").write(cfg)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cfg_hex, "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": w.compressed}],
    }
    man = json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()
    man_hex = hashlib.sha256(man).hexdigest()
    open(os.path.join(blobs, man_hex), "wb").write(man)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": manifest["mediaType"], "digest": "sha256:" + man_hex, "size": len(man),
                            "annotations": {"org.opencontainers.image.ref.name": "big"}}]}
    open(os.path.join(a.out, "index.json"), "w").write(json.dumps(index))
    open(os.path.join(a.out, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
    print(json.dumps({"layer": layer_digest, "compressed_bytes": w.compressed, "uncompressed_bytes": w.uncompressed,
                      "files": i, "manifest": "sha256:" + man_hex}))


if __name__ == "__main__":
    main()
