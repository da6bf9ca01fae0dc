#!/usr/bin/env python3
"""The fleet benchmark: N berth hosts converging through one pull-through cache.

Start it through bench/fleet.sh (which builds release binaries first). On loopback it starts an
upstream docker-registry seeded with `berth-testbed seed --profile bench --scale S`, then per
variant a fresh cache, and runs N berth processes (each its own embedded store), started with a
random jitter and at most C at once:

  unlocked   `berth apply -f fleet.yaml` through a distribution proxy-mode cache (a mirror)
  locked     `berth lock` once (CI), then `berth apply --lock images.lock` through a fresh cache
  filled     `berth apply --store registry://MIRROR/mirror` once (the filler), then the fleet
             through a plain registry named as a mirror with a path prefix

For each it records the upstream's requests (blob GETs against distinct blobs, HEADs, manifest
GETs), the cache's, the fleet's wall time against one host's alone, and a no-op second round.
Writes bench/results/fleet-<date>.json and .md. Stops everything it started (also on Ctrl-C).
"""
import argparse
import datetime
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import free_port  # noqa: E402  (one helper for the bench scripts)
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
T0 = time.monotonic()
ACCEPT = ", ".join(["application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"])
LINE = re.compile(r'"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d{3}) \S+ "[^"]*" "([^"]*)"')
RUNNING = []


def log(msg):
    print(f"[fleet {time.monotonic() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def stop(p):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    if p in RUNNING:
        RUNNING.remove(p)


class Registry:
    """docker-registry on loopback (plain HTTP), optionally a pull-through cache of `proxy_of`."""

    def __init__(self, work, name, proxy_of=None):
        self.name = name
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        proxy = f"proxy:\n  remoteurl: http://{proxy_of}\n" if proxy_of else ""
        cfg = os.path.join(self.dir, "config.yml")
        with open(cfg, "w") as f:
            f.write(f"""version: 0.1
log:
  level: error
  formatter: text
storage:
  filesystem:
    rootdirectory: {self.dir}/storage
  delete:
    enabled: true
http:
  addr: {self.host}
  secret: berth-fleet-bench
{proxy}""")
        self.access = os.path.join(self.dir, "access.log")
        self.errors = os.path.join(self.dir, "registry.log")
        self.proc = subprocess.Popen([shutil.which("docker-registry") or "/usr/bin/docker-registry", "serve", cfg],
                                     stdout=open(self.access, "ab"), stderr=open(self.errors, "ab"), start_new_session=True)
        RUNNING.append(self.proc)
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"docker-registry {name} did not start:\n" + open(self.errors).read()[-2000:])
            time.sleep(0.1)

    def mark(self):
        return os.path.getsize(self.access)

    def since(self, mark, agent=None):
        """Requests logged since `mark` (optionally only those whose user agent starts with `agent`), by kind."""
        time.sleep(0.5)   # the log line follows the response; a cache also fills its storage in the background
        with open(self.access, "rb") as f:
            f.seek(mark)
            text = f.read().decode(errors="replace")
        c = {k: 0 for k in ["blob_GET", "blob_HEAD", "tag_manifest_GET", "tag_manifest_HEAD", "digest_manifest_GET",
                            "digest_manifest_HEAD", "ping", "other", "total"]}
        blobs = {}
        for m in LINE.finditer(text):
            method, path, ua = m.group(1), m.group(2).split("?")[0], m.group(4)
            if agent and not ua.startswith(agent):
                continue
            c["total"] += 1
            last = path.rstrip("/").rsplit("/", 1)[-1]
            if path.rstrip("/") == "/v2":
                c["ping"] += 1
            elif "/blobs/" in path and "/uploads" not in path and method in ("GET", "HEAD"):
                c["blob_" + method] += 1
                if method == "GET":
                    blobs[last] = blobs.get(last, 0) + 1
            elif "/manifests/" in path and method in ("GET", "HEAD"):
                c[("digest" if ":" in last else "tag") + "_manifest_" + method] += 1
            else:
                c["other"] += 1
        c["HEAD"] = c["blob_HEAD"] + c["tag_manifest_HEAD"] + c["digest_manifest_HEAD"]
        c["distinct_blobs_fetched"] = len(blobs)
        c["max_gets_of_one_blob"] = max(blobs.values(), default=0)
        return c

    def get(self, path):
        req = urllib.request.Request(f"http://{self.host}{path}", headers={"Accept": ACCEPT})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def stop(self):
        stop(self.proc)


def run(cmd, out=None, check=True, timeout=1800):
    with open(out or os.devnull, "ab") as f:
        p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout, env=dict(os.environ, NO_COLOR="1"))
    if check and p.returncode != 0:
        tail = open(out).read()[-3000:] if out else ""
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}\n{tail}")
    return p.returncode


def fleet(args, work, name, argv_for):
    """Runs argv_for(host) for every host: jitter first, at most args.concurrency at once."""
    slots = threading.Semaphore(args.concurrency)
    times, codes = [None] * args.hosts, [None] * args.hosts
    logs = os.path.join(work, "logs", name)
    os.makedirs(logs, exist_ok=True)

    def host(i, delay):
        time.sleep(delay)
        with slots:
            t = time.perf_counter()
            codes[i] = run(argv_for(i), out=os.path.join(logs, f"host-{i:02d}.log"), check=False)
            times[i] = time.perf_counter() - t

    t0 = time.perf_counter()
    threads = [threading.Thread(target=host, args=(i, random.uniform(0, args.jitter))) for i in range(args.hosts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    failed = [i for i, c in enumerate(codes) if c != 0]
    if failed:
        raise RuntimeError(f"{name}: hosts {failed} failed; see {logs}/host-{failed[0]:02d}.log:\n"
                           + open(os.path.join(logs, f"host-{failed[0]:02d}.log")).read()[-2000:])
    return {"wall": wall, "host_median": statistics.median(times), "host_max": max(times), "host_min": min(times)}


def manifest(path, upstream, tags, mirrors):
    by_repo = {}
    for repo, tag in tags:
        by_repo.setdefault(repo, []).append(tag)
    lines = ["version: 1", "platform: linux/amd64", "images:"]
    for repo, ts in by_repo.items():
        lines.append(f"  - name: {upstream}/{repo}\n    tags: [{', '.join(json.dumps(t) for t in ts)}]")
    lines += ["registries:", f'  "{upstream}":', "    insecure: true"]
    if mirrors:
        lines.append(f"    mirrors: [{', '.join(json.dumps(m) for m in mirrors)}]")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def supports(berth, argv, needle):
    p = subprocess.run([berth] + argv + ["--help"], capture_output=True, text=True)
    return p.returncode == 0 and needle in p.stdout


def variant(args, work, berth, upstream, name, manifest_path, extra, cache=None, store=lambda w, i: None):
    """One fleet round through `cache` (started fresh by the caller), a no-op round, and one host alone."""
    log(f"{name}: {args.hosts} hosts, jitter {args.jitter}s, {args.concurrency} at once")
    stores = os.path.join(work, "stores", name)
    up0, c0 = upstream.mark(), cache.mark()
    r1 = fleet(args, work, name, lambda i: [berth, "apply", "-f", manifest_path, "--store", f"{stores}/host-{i:02d}", "--yes", "--quiet"] + extra)
    up1, cache1 = upstream.since(up0), cache.since(c0)
    direct1 = upstream.since(up0, agent="berth/")
    log(f"{name}: round 1 {r1['wall']:.1f}s; upstream blob GETs {up1['blob_GET']}, HEADs {up1['HEAD']}")
    up0, c0 = upstream.mark(), cache.mark()
    r2 = fleet(args, work, name + "-noop", lambda i: [berth, "apply", "-f", manifest_path, "--store", f"{stores}/host-{i:02d}", "--yes", "--quiet"] + extra)
    up2, cache2 = upstream.since(up0), cache.since(c0)
    log(f"{name}: no-op round {r2['wall']:.1f}s; upstream HEADs {up2['HEAD']}, cache HEADs {cache2['HEAD']}")
    # New hosts (empty stores) join the warm cache.
    up0 = upstream.mark()
    r3 = fleet(args, work, name + "-join", lambda i: [berth, "apply", "-f", manifest_path, "--store", f"{stores}/joiner-{i:02d}", "--yes", "--quiet"] + extra)
    up3 = upstream.since(up0)
    log(f"{name}: {args.hosts} joiners {r3['wall']:.1f}s; upstream blob GETs {up3['blob_GET']}")
    return {"round1": r1, "upstream_round1": up1, "upstream_direct_round1": direct1, "cache_round1": cache1,
            "noop": r2, "upstream_noop": up2, "cache_noop": cache2, "joiners": r3, "upstream_joiners": up3}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=6, help="berth processes at once (default 6)")
    ap.add_argument("--jitter", type=float, default=1.0, help="each host starts after 0..JITTER s (default 1)")
    ap.add_argument("--scale", type=float, default=0.02, help="berth-testbed seed --profile bench --scale (default 0.02)")
    ap.add_argument("--bin-dir", default=os.path.join(REPO, ".build-bench/release"))
    ap.add_argument("--work", default=None, help="work directory (default: a temp directory, removed)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    berth, testbed = os.path.join(args.bin_dir, "berth"), os.path.join(args.bin_dir, "berth-testbed")
    work = args.work or tempfile.mkdtemp(prefix="berth-fleet-bench-")
    os.makedirs(work, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    result = {"format": 1, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "hosts": args.hosts, "concurrency": args.concurrency, "jitter_s": args.jitter, "scale": args.scale,
              "berth": berth, "loadavg_start": open("/proc/loadavg").read().split()[:3], "variants": {}}
    try:
        upstream = Registry(work, "upstream")
        log(f"seeding {upstream.host} (bench profile, scale {args.scale})")
        seeded = subprocess.run([testbed, "seed", "--registry", upstream.host, "--insecure", "--profile", "bench",
                                 "--scale", str(args.scale)], capture_output=True, text=True, check=True).stdout
        tags = [tuple(line.split()[0].rsplit(":", 1)) for line in seeded.splitlines() if line.strip()]
        blobs, size = set(), 0
        for repo, tag in tags:
            m = upstream.get(f"/v2/{repo}/manifests/{tag}")
            for d in [m["config"]] + m["layers"]:
                if d["digest"] not in blobs:
                    size += d["size"]
                blobs.add(d["digest"])
        result.update(tags=len(tags), distinct_blobs=len(blobs), blob_bytes=size)
        log(f"{len(tags)} tags, {len(blobs)} distinct blobs, {size / 1e6:.1f} MB")

        # One host alone, cold cache: the yardstick for the fleet's wall time.
        cache = Registry(work, "cache-single", proxy_of=upstream.host)
        m = os.path.join(work, "single.yaml")
        manifest(m, upstream.host, tags, [cache.host])
        t = time.perf_counter()
        run([berth, "apply", "-f", m, "--store", os.path.join(work, "stores/single"), "--yes", "--quiet"], out=os.path.join(work, "single.log"))
        result["one_host_cold_s"] = time.perf_counter() - t
        cache.stop()
        log(f"one host alone: {result['one_host_cold_s']:.1f}s")

        cache = Registry(work, "cache-unlocked", proxy_of=upstream.host)
        m = os.path.join(work, "unlocked.yaml")
        manifest(m, upstream.host, tags, [cache.host])
        result["variants"]["unlocked"] = variant(args, work, berth, upstream, "unlocked", m, [], cache=cache)
        cache.stop()

        if supports(berth, ["lock"], "USAGE: berth lock"):
            cache = Registry(work, "cache-locked", proxy_of=upstream.host)
            m = os.path.join(work, "locked.yaml")
            manifest(m, upstream.host, tags, [cache.host])
            lock = os.path.join(work, "images.lock")
            up0 = upstream.mark()
            run([berth, "lock", "-f", m, "-o", lock], out=os.path.join(work, "lock.log"))
            result["lock_requests_upstream"] = upstream.since(up0)
            result["variants"]["locked"] = variant(args, work, berth, upstream, "locked", m, ["--lock", lock], cache=cache)
            cache.stop()
        else:
            result["variants"]["locked"] = {"skipped": "this berth has no 'lock' command"}
            log("locked: skipped (no 'berth lock' in this build)")

        mirror = Registry(work, "mirror")
        filler = os.path.join(work, "filler.yaml")
        manifest(filler, upstream.host, tags, [])
        up0 = upstream.mark()
        t = time.perf_counter()
        rc = run([berth, "apply", "-f", filler, "--store", f"registry://{mirror.host}/mirror", "--yes", "--quiet"],
                 out=os.path.join(work, "filler.log"), check=False)
        if rc == 0:
            fill = {"filler_s": time.perf_counter() - t, "upstream_filler": upstream.since(up0)}
            m = os.path.join(work, "filled.yaml")
            manifest(m, upstream.host, tags, [f"{mirror.host}/mirror/{upstream.host.replace(':', '_')}"])
            fill.update(variant(args, work, berth, upstream, "filled", m, [], cache=mirror))
            fill["upstream_after_filler"] = fill.pop("upstream_round1")
            result["variants"]["filled"] = fill
        else:
            result["variants"]["filled"] = {"skipped": f"berth apply --store registry:// exited {rc}: "
                                            + open(os.path.join(work, "filler.log")).read()[-400:].strip()}
            log("filled: skipped (" + result["variants"]["filled"]["skipped"][:120] + ")")
        mirror.stop()
        upstream.stop()
    finally:
        for p in list(RUNNING):
            stop(p)
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    result["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d-%H%M")
    base = os.path.join(args.out, f"fleet-{stamp}")
    with open(base + ".json", "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
    with open(base + ".md", "w") as f:
        f.write(render(result))
    print(render(result))
    log(f"wrote {base}.json and .md")


def render(r):
    out = [f"# Fleet benchmark, {r['date']}", "",
           f"{r['hosts']} berth hosts ({'debug' if '/debug' in r['berth'] else 'release'} build, `{os.path.relpath(r['berth'], REPO)}`), each its own embedded store, started within {r['jitter_s']} s, "
           f"{r['concurrency']} at once; `berth-testbed seed --profile bench --scale {r['scale']}`: {r['tags']} tags, "
           f"{r['distinct_blobs']} distinct blobs, {r['blob_bytes'] / 1e6:.1f} MB. Cache: docker-registry 2.8 in proxy mode. "
           f"Load average {' '.join(r['loadavg_start'])} at the start, {' '.join(r['loadavg_end'])} at the end.", "",
           f"One host alone through a cold cache: {r['one_host_cold_s']:.1f} s.", "",
           "| variant | fleet wall | host median / max | upstream blob GETs (distinct blobs) | upstream HEADs | upstream tag manifest GETs | no-op round: upstream HEADs | no-op round: cache HEADs | new hosts, warm cache: wall, upstream blob GETs |",
           "|---|---|---|---|---|---|---|---|---|"]
    for name, v in r["variants"].items():
        if "skipped" in v:
            out.append(f"| {name} | skipped: {v['skipped'][:160]} | | | | | | | |")
            continue
        up = v.get("upstream_round1") or v.get("upstream_after_filler")
        out.append(f"| {name} | {v['round1']['wall']:.1f} s | {v['round1']['host_median']:.1f} / {v['round1']['host_max']:.1f} s | "
                   f"{up['blob_GET']} ({r['distinct_blobs']}; max {up['max_gets_of_one_blob']} of one) | {up['HEAD']} | "
                   f"{up['tag_manifest_GET']} | {v['upstream_noop']['HEAD']} | {v['cache_noop']['HEAD']} | "
                   f"{v['joiners']['wall']:.1f} s, {v['upstream_joiners']['blob_GET']} |")
    if "filled" in r["variants"] and "skipped" not in r["variants"]["filled"]:
        fv = r["variants"]["filled"]
        out += ["", f"Filled variant: the filler (`berth apply --store registry://MIRROR/mirror`) took {fv['filler_s']:.1f} s and made "
                f"{fv['upstream_filler']['blob_GET']} blob GETs and {fv['upstream_filler']['HEAD']} HEADs at the upstream; "
                "the upstream column is what the fleet caused afterwards."]
    out += ["", "Upstream counts are every request the upstream logged in that round (the cache's, user agent Go-http-client, and any host's that went around it); "
            "distribution 2.8's cache fetches an uncached blob with two GETs (one streams the answer, one fills its storage) "
            "plus one per request that arrives while that is in flight.", ""]
    return "\n".join(out)


if __name__ == "__main__":
    main()
