#!/usr/bin/env python3
"""No-op converge at scale (issue 16, item 4): 1,000 desired tags already current.

Seeds a local docker-registry with 100 repositories x 10 tags (every tag its own manifest over
two shared blobs, mounted between repositories), converges an empty store once, then measures
the no-op re-converge: wall time, peak RSS, CPU, registry requests by kind, and TCP connections
opened (counted with strace in one extra run, so the timed runs carry no tracing). With
`--proxy CMD` every berth request goes through a shaping proxy started by CMD (see
bench/shape_proxy.py) to measure the same on a WAN profile.

  bench/noop_scale.py --berth .build-bench/release/berth [--repos 100 --tags 10] [--runs 5]
"""
import argparse
import gzip
import hashlib
import http.client
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (Registry, PROCS, measure)


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tiny_layer():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        body = b"berth no-op scale\n" * 64
        info = tarfile.TarInfo("etc/berth-noop")
        info.size, info.mtime, info.mode = len(body), 0, 0o644
        t.addfile(info, io.BytesIO(body))
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0), sha(raw)


def seed(host, repos, tags):
    """Pushes the set with one keep-alive connection; returns the manifest's image entries."""
    layer, diff_id = tiny_layer()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                         "config": {}}, sort_keys=True).encode()
    conn = http.client.HTTPConnection(host)

    def req(method, path, body=None, headers=None):
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, r.getheader("Location"), data

    def put_blob(repo, data):
        digest = sha(data)
        status, loc, _ = req("POST", f"/v2/{repo}/blobs/uploads/?mount={digest}&from=noop/r000")
        if status == 201:
            return
        sep = "&" if "?" in loc else "?"
        path = loc.split(host, 1)[-1] if loc.startswith("http") else loc
        status, _, body = req("PUT", f"{path}{sep}digest={digest}", data,
                              {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))})
        assert status == 201, (status, body[:200])

    entries = []
    for r in range(repos):
        repo = f"noop/r{r:03d}"
        put_blob(repo, config)
        put_blob(repo, layer)
        names = []
        for t in range(tags):
            tag = f"t{t:02d}"
            m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                       "digest": sha(config), "size": len(config)},
                            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                        "digest": sha(layer), "size": len(layer)}],
                            "annotations": {"berth.bench.tag": f"{repo}:{tag}"}}, sort_keys=True).encode()
            status, _, body = req("PUT", f"/v2/{repo}/manifests/{tag}", m,
                                  {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
            assert status == 201, (status, body[:200])
            names.append(tag)
        entries.append((repo, names))
    conn.close()
    return entries


def manifest_text(host, entries, registry_host):
    lines = ["version: 1", "platform: linux/amd64", "registries:", f"  {registry_host}:", "    insecure: true",
             "policy:", "  unlisted: keep", "images:"]
    for repo, tags in entries:
        lines.append(f"  - name: {host}/{repo}")
        lines.append(f"    tags: [{', '.join(tags)}]")
    return "\n".join(lines) + "\n"


def connections(cmd, env):
    """TCP connects the command makes (strace; a separate, untimed run)."""
    if not shutil.which("strace"):
        return None
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as f:
        subprocess.run(["strace", "-f", "-qq", "-e", "trace=connect", "-o", f.name] + cmd, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        return sum(1 for line in open(f.name) if "AF_INET" in line and "sin_port=htons" in line)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--berth", required=True)
    ap.add_argument("--repos", type=int, default=100)
    ap.add_argument("--tags", type=int, default=10)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--proxy", help="shell command starting a proxy to the registry; {upstream} and {listen} are filled in")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="berth-noop-")
    try:
        reg = bench.Registry(work, os.path.join(work, "registry"))
        t = time.perf_counter()
        entries = seed(reg.host, a.repos, a.tags)
        bench.log(f"seeded {a.repos * a.tags} tags in {time.perf_counter() - t:.1f} s")
        host = reg.host
        proxy = None
        if a.proxy:
            listen = f"127.0.0.1:{bench.free_port()}"
            proxy = bench.PROCS.spawn(["sh", "-c", a.proxy.format(upstream=reg.host, listen=listen)],
                                      subprocess.DEVNULL, open(os.path.join(work, "proxy.log"), "ab"))
            time.sleep(0.5)
            host = listen
        yaml = os.path.join(work, "images.yaml")
        with open(yaml, "w") as f:
            f.write(manifest_text(host, entries, host))
        store = os.path.join(work, "store")
        env = dict(os.environ, HOME=work, XDG_STATE_HOME=os.path.join(work, "state"))
        subprocess.run([a.berth, "store", "init", "--store", store], env=env, check=True, stdout=subprocess.DEVNULL)
        cmd = [a.berth, "apply", "-f", yaml, "--store", store, "--yes"]
        cold = bench.measure(cmd, env=env, out=os.path.join(work, "cold.log"))
        bench.log(f"cold: {cold['wall']:.2f} s")
        runs = []
        for _ in range(a.runs):
            mark = reg.mark()
            r = bench.measure(cmd, env=env, out=os.path.join(work, "noop.log"))
            r["requests"], r["registry_cpu"] = reg.since(mark)
            runs.append(r)
            bench.log(f"no-op: {r['wall']:.3f} s, {r['rss_kb'] / 1024:.1f} MiB, {r['requests']['HEAD']} HEAD, {r['requests']['GET']} GET")
        conns = connections(cmd, env)
        walls = sorted(r["wall"] for r in runs)
        out = {"tags": a.repos * a.tags, "repos": a.repos, "proxy": a.proxy, "cold": cold,
               "noop": {"wall": bench.stats(walls), "rss_kb": max(r["rss_kb"] for r in runs),
                        "cpu": bench.stats([r["cpu"] for r in runs]), "requests": runs[-1]["requests"],
                        "registry_cpu": bench.stats([r["registry_cpu"] for r in runs]),
                        "connections": conns}}
        print(json.dumps(out, indent=2))
        if a.json:
            with open(a.json, "w") as f:
                json.dump(out, f, indent=2)
        if proxy:
            bench.PROCS.stop(proxy)
    finally:
        bench.PROCS.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
