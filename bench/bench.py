#!/usr/bin/env python3
"""berth's benchmark driver. Start it through bench/run.sh (which installs and builds first).

Every section runs against the same local docker-registry in one invocation; repetitions of
the compared tools are interleaved (berth, skopeo copy loop, skopeo sync, berth, ...) so load
from other work on the machine hits them alike. Writes bench/results/*.json and chart.svg.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True   # no __pycache__ in the repo
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
T0 = time.monotonic()
MANIFEST_ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"])


def log(msg):
    print(f"[bench {time.monotonic() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def loadavg():
    return [float(x) for x in open("/proc/loadavg").read().split()[:3]]


def stats(xs):
    xs = list(xs)
    if not xs:
        return None
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs), "runs": xs}


class CommandFailed(Exception):
    pass


class Procs:
    """Processes this run started (each in its own session); stopped by their own ids."""

    def __init__(self):
        self.running = []

    def spawn(self, cmd, stdout, stderr, env=None):
        p = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=env, start_new_session=True)
        self.running.append(p)
        return p

    def stop(self, p, timeout=20):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        if p in self.running:
            self.running.remove(p)

    def stop_all(self):
        for p in list(reversed(self.running)):
            self.stop(p)


PROCS = Procs()


# GNU time reports the peak RSS of the command alone. A child's own ru_maxrss is no good: Linux
# carries the peak of the process image it replaced into it, and a child of this script starts
# as a copy of the script (a 2 MB `true` reads as 65 MB under a parent that size).
GNU_TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None


def measure(cmd, env=None, out=None, check=True):
    """Runs cmd to completion: wall seconds, the command's peak RSS (KiB) and CPU seconds."""
    t = time.perf_counter()
    with open(out or os.devnull, "ab") as f, tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        full = [GNU_TIME, "-f", "%M", "-o", rss.name] + cmd if GNU_TIME else cmd
        p = subprocess.Popen(full, stdout=f, stderr=subprocess.STDOUT, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        lines = rss.read().split()
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    if check and p.returncode != 0:
        tail = open(out).read()[-3000:] if out else ""
        raise CommandFailed(f"{' '.join(cmd)} exited {p.returncode}\n{tail}")
    peak = int(lines[-1]) if GNU_TIME and lines and lines[-1].isdigit() else ru.ru_maxrss
    return {"wall": wall, "rss_kb": peak, "cpu": ru.ru_utime + ru.ru_stime, "rc": p.returncode}


def measure_seq(cmds, env=None, out=None):
    """Runs cmds one after another (what a script would do): total wall, max RSS, total CPU."""
    t = time.perf_counter()
    rss, cpu = 0, 0.0
    for c in cmds:
        r = measure(c, env=env, out=out)
        rss, cpu = max(rss, r["rss_kb"]), cpu + r["cpu"]
    return {"wall": time.perf_counter() - t, "rss_kb": rss, "cpu": cpu, "rc": 0}


def proc_cpu(pid):
    """user+system CPU seconds of a live process and its waited-for children."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return sum(int(x) for x in f[11:15]) / tck


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rmtree(path):
    if os.path.lexists(path):
        shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Peers


class Registry:
    """docker-registry on loopback; its stdout is the access log (one line per request)."""

    LINE = re.compile(r'"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')

    def __init__(self, work, storage):
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.storage = storage
        os.makedirs(storage, exist_ok=True)
        cfg = os.path.join(work, "registry.yml")
        with open(cfg, "w") as f:
            f.write(f"""version: 0.1
log:
  level: error
  formatter: text
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: {self.host}
  secret: berth-bench-secret
""")
        self.access = os.path.join(work, "registry-access.log")
        self.errors = os.path.join(work, "registry.log")
        self.proc = PROCS.spawn([shutil.which("docker-registry") or "/usr/bin/docker-registry", "serve", cfg],
                                open(self.access, "ab"), open(self.errors, "ab"))
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("docker-registry did not start:\n" + open(self.errors).read()[-2000:])
            time.sleep(0.1)

    def mark(self):
        return os.path.getsize(self.access), proc_cpu(self.proc.pid)

    def since(self, mark):
        """Requests served since mark, by kind; and the registry's CPU seconds meanwhile."""
        time.sleep(0.2)   # the registry writes a line after the response: let the last ones land
        off, cpu0 = mark
        with open(self.access, "rb") as f:
            f.seek(off)
            text = f.read().decode(errors="replace")
        c = {"HEAD": 0, "GET": 0, "other": 0, "manifest_HEAD": 0, "manifest_GET": 0, "blob_GET": 0, "blob_HEAD": 0,
             "ping": 0, "total": 0}
        for m in self.LINE.finditer(text):
            method, path = m.group(1), m.group(2)
            c["total"] += 1
            if method in ("GET", "HEAD"):
                c[method] += 1
            else:
                c["other"] += 1
            if path.rstrip("/") == "/v2":
                c["ping"] += 1
            elif "/manifests/" in path and method in ("GET", "HEAD"):
                c["manifest_" + method] += 1
            elif "/blobs/" in path and method in ("GET", "HEAD"):
                c["blob_" + method] += 1
        return c, proc_cpu(self.proc.pid) - cpu0

    def get_json(self, path, accept=None):
        req = urllib.request.Request(f"http://{self.host}{path}", headers={"Accept": accept} if accept else {})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read()), r.headers

    def blob_file(self, digest):
        hexd = digest.split(":", 1)[1]
        return os.path.join(self.storage, "docker/registry/v2/blobs/sha256", hexd[:2], hexd, "data")

    def stop(self):
        PROCS.stop(self.proc)


class Shaper:
    """bench/shape_proxy.py in front of the registry: RTT, bandwidth per connection, in total."""

    def __init__(self, work, upstream, rtt_ms, conn_mbit, total_mbit):
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.stats_path = os.path.join(work, "shaper-stats.json")
        if os.path.exists(self.stats_path):
            os.unlink(self.stats_path)
        self.proc = PROCS.spawn([sys.executable, os.path.join(HERE, "shape_proxy.py"), "--listen", self.host, "--upstream", upstream,
                                 "--rtt-ms", f"{rtt_ms:g}", "--conn-mbit", f"{conn_mbit:g}", "--total-mbit", f"{total_mbit:g}",
                                 "--stats", self.stats_path], subprocess.DEVNULL, open(os.path.join(work, "shaper.log"), "ab"))
        deadline = time.time() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("shape_proxy.py did not start: " + open(os.path.join(work, "shaper.log")).read()[-2000:])
                time.sleep(0.05)
        log(f"shaper at {self.host}: rtt {rtt_ms:g} ms, {conn_mbit:g} Mbit/s per connection, {total_mbit:g} Mbit/s total")

    def stats(self):
        for _ in range(30):
            try:
                return json.load(open(self.stats_path))
            except (OSError, ValueError):
                time.sleep(0.1)
        return {}

    def snapshot(self):
        time.sleep(0.3)   # the proxy rewrites its counters every 0.25 s
        return self.stats()

    def delta(self, before):
        after = self.snapshot()
        return {k: after.get(k, 0) - before.get(k, 0) for k in ("connections", "bytes_up", "bytes_down")}

    def cpu(self):
        return proc_cpu(self.proc.pid)

    def stop(self):
        PROCS.stop(self.proc)


class Dockerd:
    """A private dockerd (vfs, own data root, exec root and socket; no networking setup), as
    Tests/Support/DockerDaemon.swift starts it. stop() removes everything it wrote."""

    def __init__(self, insecure):
        self.dir = tempfile.mkdtemp(prefix="bbd", dir="/tmp")   # unix socket paths stay < 108 bytes
        self.sock = os.path.join(self.dir, "docker.sock")
        self.host = "unix://" + self.sock
        self.log = os.path.join(self.dir, "dockerd.log")
        os.makedirs(os.path.join(self.dir, "cli"))
        private_key = True
        while True:
            cfg = os.path.join(self.dir, "daemon.json")
            with open(cfg, "w") as f:
                json.dump({"deprecated-key-path": os.path.join(self.dir, "key.json")} if private_key else {}, f)
            args = [shutil.which("dockerd") or "/usr/sbin/dockerd", "--config-file", cfg, "--storage-driver", "vfs",
                    "--data-root", os.path.join(self.dir, "data"), "--exec-root", os.path.join(self.dir, "x"),
                    "--pidfile", os.path.join(self.dir, "dockerd.pid"), "-H", self.host,
                    "--iptables=false", "--bridge=none", "--ip-masq=false", "--log-level", "warn",
                    "--insecure-registry", insecure]
            self.proc = PROCS.spawn(args, open(self.log, "ab"), subprocess.STDOUT)
            deadline = time.time() + 90
            while time.time() < deadline and self.proc.poll() is None:
                r = subprocess.run(["curl", "-sS", "--unix-socket", self.sock, "--max-time", "2", "http://docker/_ping"],
                                   capture_output=True)
                if r.returncode == 0 and r.stdout == b"OK":
                    return
                time.sleep(0.1)
            text = open(self.log).read()
            PROCS.stop(self.proc)
            if private_key and "deprecated-key-path" in text:
                private_key = False   # a newer dockerd refuses the 20.10-only setting
                continue
            self.cleanup()
            raise RuntimeError("dockerd did not start:\n" + text[-3000:])

    def env(self, extra=None):
        e = dict(os.environ, DOCKER_HOST=self.host, DOCKER_CONFIG=os.path.join(self.dir, "cli"))
        e.pop("DOCKER_CONTEXT", None)
        e.update(extra or {})
        return e

    def image_count(self):
        r = subprocess.run(["docker", "images", "-q"], env=self.env(), capture_output=True, text=True, check=True)
        return len([x for x in r.stdout.split() if x])

    def stop(self):
        PROCS.stop(self.proc, timeout=60)
        self.cleanup()

    def cleanup(self):
        prefix = self.dir + "/"
        mounts = [l.split()[1] for l in open("/proc/self/mounts") if len(l.split()) > 1 and l.split()[1].startswith(prefix)]
        for m in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        rmtree(self.dir)


# ---------------------------------------------------------------------------------------------
# The benchmark


class Bench:
    def __init__(self, a):
        self.a = a
        self.work = a.work
        self.berth = os.path.join(a.bin_dir, "berth")
        self.testbed = os.path.join(a.bin_dir, "berth-testbed")
        self.logs = os.path.join(self.work, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.r = {"format": 1, "quick": a.quick, "scale": a.scale, "reps": a.reps, "sections": {}, "load": []}

    def note_load(self, what):
        self.r["load"].append({"at": what, "t": round(time.monotonic() - T0, 1), "loadavg": loadavg()})

    def out(self, name):
        return os.path.join(self.logs, name + ".log")

    # -- setup ---------------------------------------------------------------------------------

    def seed(self):
        a = self.a
        storage = os.path.join(self.work, f"registry-scale-{a.scale:g}")
        marker = os.path.join(storage, "seeded.txt")
        big_marker = os.path.join(storage, "big.json")
        if a.fresh:
            rmtree(storage)
        self.reg = Registry(self.work, storage)
        log(f"registry at {self.reg.host} (storage {storage})")
        seed_info = {}
        if not os.path.exists(marker):
            log(f"seeding the bench profile at scale {a.scale:g} (berth-testbed seed)")
            t = time.perf_counter()
            r = subprocess.run([self.testbed, "seed", "--registry", self.reg.host, "--insecure", "--profile", "bench",
                                "--scale", f"{a.scale:g}"], capture_output=True, text=True)
            if r.returncode != 0:
                raise CommandFailed("seed failed:\n" + r.stderr[-3000:])
            seed_info["seconds"] = time.perf_counter() - t
            with open(marker, "w") as f:
                f.write(r.stdout)
        self.tags = []   # (repo, tag, digest)
        for line in open(marker):
            if line.strip():
                ref, digest = line.split()
                repo, tag = ref.rsplit(":", 1)
                self.tags.append((repo, tag, digest))
        self.repos = sorted({t[0] for t in self.tags})
        if not a.skip_big and not os.path.exists(big_marker):
            mb = max(5.0, 500 * a.scale)
            log(f"building and pushing bench/big:1.0 (one {mb:g} MiB gzip layer)")
            src = os.path.join(self.work, "big-oci")
            rmtree(src)
            r = subprocess.run([sys.executable, os.path.join(HERE, "make_big_image.py"), src, "--mb", f"{mb:g}"],
                               capture_output=True, text=True, check=True)
            info = json.loads(r.stdout)
            subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
                            f"oci:{src}:big", f"docker://{self.reg.host}/bench/big:1.0"], check=True)
            rmtree(src)
            with open(big_marker, "w") as f:
                json.dump(info, f)
        self.big = json.load(open(big_marker)) if os.path.exists(big_marker) else None
        seed_info.update({"tags": len(self.tags), "repositories": len(self.repos)})
        self.r["seed"] = seed_info

        # The manifests every tool reads.
        self.manifest = os.path.join(self.work, "bench.yaml")
        with open(self.manifest, "w") as f:
            f.write(f"version: 1\nplatform: linux/amd64\nregistries:\n  {self.reg.host}:\n    insecure: true\nimages:\n")
            for repo in self.repos:
                tags = [t[1] for t in self.tags if t[0] == repo]
                f.write(f"  - name: {self.reg.host}/{repo}\n    tags: [{', '.join(json.dumps(t) for t in tags)}]\n")
        self.big_manifest = os.path.join(self.work, "big.yaml")
        with open(self.big_manifest, "w") as f:
            f.write(f"version: 1\nplatform: linux/amd64\nregistries:\n  {self.reg.host}:\n    insecure: true\n"
                    f"images:\n  - name: {self.reg.host}/bench/big\n    tags: [\"1.0\"]\n")
        self.sync_yaml = os.path.join(self.work, "skopeo-sync.yaml")
        with open(self.sync_yaml, "w") as f:
            f.write(f"{self.reg.host}:\n  tls-verify: false\n  images:\n")
            for repo in self.repos:
                tags = [t[1] for t in self.tags if t[0] == repo]
                f.write(f"    {repo}: [{', '.join(json.dumps(t) for t in tags)}]\n")

    def discover_blobs(self):
        """Every distinct blob the manifest's tags reference (configs and layers), via the API."""
        blobs = {}
        manifests = {}
        for repo, tag, _ in self.tags:
            doc, headers = self.reg.get_json(f"/v2/{repo}/manifests/{tag}", MANIFEST_ACCEPT)
            manifests[headers.get("Docker-Content-Digest")] = len(json.dumps(doc))
            for d in [doc["config"]] + doc["layers"]:
                blobs.setdefault(d["digest"], {"repo": repo, "size": d["size"], "mediaType": d["mediaType"],
                                               "layer": d in doc["layers"]})
        self.blobs = blobs
        total = sum(b["size"] for b in blobs.values())
        layers = [d for d, b in blobs.items() if b["layer"]]
        self.r["set"] = {"tags": len(self.tags), "repositories": len(self.repos), "distinct_blobs": len(blobs),
                         "distinct_layers": len(layers), "distinct_bytes": total,
                         "sum_of_image_bytes": None, "manifests": len(manifests)}
        # Bytes if every image were fetched whole (what a per-image copy without sharing moves).
        per_image = 0
        for repo, tag, _ in self.tags:
            doc, _ = self.reg.get_json(f"/v2/{repo}/manifests/{tag}", MANIFEST_ACCEPT)
            per_image += doc["config"]["size"] + sum(l["size"] for l in doc["layers"])
        self.r["set"]["sum_of_image_bytes"] = per_image
        log(f"set: {len(self.tags)} tags in {len(self.repos)} repositories, {len(blobs)} distinct blobs, "
            f"{total / 1e6:.0f} MB distinct ({per_image / 1e6:.0f} MB summed per image)")

    # -- 5. the limit --------------------------------------------------------------------------

    def limit(self):
        reps = self.a.reps
        urls = os.path.join(self.work, "blob-urls.txt")
        with open(urls, "w") as f:
            for d, b in sorted(self.blobs.items()):
                f.write(f"http://{self.reg.host}/v2/{b['repo']}/blobs/{d}\n")
        files = [self.reg.blob_file(d) for d in sorted(self.blobs)]
        gz = [self.reg.blob_file(d) for d, b in sorted(self.blobs.items()) if b["layer"] and b["mediaType"].endswith("gzip")]
        # Warm the page cache (every tool below reads the registry's files from memory).
        for p in files:
            with open(p, "rb") as f:
                while f.read(1 << 22):
                    pass
        fetch, fetch_cpu = [], []
        lib = {"sha256": [], "inflate": [], "sha256_uncompressed": []}
        cli = {"sha256sum": [], "gzip_dc": [], "sha256sum_uncompressed": []}
        fetch_cmd = ["sh", "-c", f"xargs -P {self.a.fetch_parallel} -n 1 curl -sSf -o /dev/null < {urls}"]
        hi = [sys.executable, os.path.join(HERE, "hashinflate.py")]
        for i in range(reps):
            m = self.reg.mark()
            r = measure(fetch_cmd)
            reqs, reg_cpu = self.reg.since(m)
            assert reqs["blob_GET"] == len(self.blobs), reqs
            fetch.append(r["wall"])
            fetch_cpu.append(r["cpu"] + reg_cpu)
            # The libraries berth uses (OpenSSL-class SHA-256, igzip), through Python.
            lib["sha256"].append(measure(hi + ["sha"] + files)["cpu"])
            inf = measure(hi + ["inflate"] + gz)["cpu"]
            lib["inflate"].append(inf)
            lib["sha256_uncompressed"].append(max(0.0, measure(hi + ["both"] + gz)["cpu"] - inf))
            # The command-line tools the brief names (coreutils sha256sum, GNU gzip's own inflater).
            cli["sha256sum"].append(measure(["sha256sum"] + files)["cpu"])
            ginf = measure(["gzip", "-dc"] + gz)["cpu"]
            cli["gzip_dc"].append(ginf)
            cli["sha256sum_uncompressed"].append(max(0.0, measure(["sh", "-c", "gzip -dc \"$@\" | sha256sum", "sh"] + gz)["cpu"] - ginf))
        cores = os.cpu_count()
        med = statistics.median
        inflater = subprocess.run(hi + ["inflater"], capture_output=True, text=True, check=True).stdout.strip()
        r = subprocess.run(hi + ["inflate"] + gz, capture_output=True, text=True, check=True)
        uncompressed = int(r.stdout.strip())
        verify_cpu = med(lib["sha256"]) + med(lib["inflate"]) + med(lib["sha256_uncompressed"])
        simple = max(med(fetch), (med(lib["sha256"]) + med(lib["inflate"])) / cores)
        resource = max(med(fetch), (med(fetch_cpu) + verify_cpu) / cores)
        cli_resource = max(med(fetch), (med(fetch_cpu) + sum(med(v) for v in cli.values())) / cores)
        self.r["sections"]["limit"] = {
            "fetch_parallel": self.a.fetch_parallel,
            "fetch_wall": stats(fetch), "fetch_cpu_incl_registry": stats(fetch_cpu),
            "library_cpu": {k: stats(v) for k, v in lib.items()},
            "cli_cpu": {k: stats(v) for k, v in cli.items()},
            "bytes_compressed": self.r["set"]["distinct_bytes"], "bytes_uncompressed_layers": uncompressed,
            "cores": cores, "inflater": inflater,
            "limit": resource, "limit_simple": simple, "limit_cli_tools": cli_resource,
            "model": "limit = max(parallel fetch wall, (fetch CPU incl. the registry + sha256(compressed) + inflate + "
                     "sha256(uncompressed)) / cores), CPU measured with the libraries berth uses; "
                     "limit_simple = max(fetch wall, (sha256 + inflate) / cores); "
                     "limit_cli_tools = the resource model with sha256sum and gzip -dc",
        }
        mb = self.r["set"]["distinct_bytes"] / 1e6
        log(f"limit: fetch {med(fetch):.2f}s ({mb / med(fetch):.0f} MB/s, {med(fetch_cpu):.2f} cpu-s incl. registry); "
            f"sha256 {med(lib['sha256']):.2f}, inflate ({inflater}) {med(lib['inflate']):.2f}, sha256(tar) {med(lib['sha256_uncompressed']):.2f} cpu-s "
            f"→ limit {resource:.2f}s (simple {simple:.2f}s; with sha256sum/gzip -dc {cli_resource:.2f}s)")

    # -- 1, 2, 4: embedded store vs skopeo ------------------------------------------------------

    def embedded(self):
        a = self.a
        host = self.reg.host
        runs = {k: [] for k in ("berth", "skopeo_copy", "skopeo_sync")}
        noops = {k: [] for k in ("berth", "skopeo_copy", "skopeo_sync")}
        copy_cmds = [["skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false",
                      f"docker://{host}/{repo}:{tag}", f"oci:{{dest}}:{repo}:{tag}"] for repo, tag, _ in self.tags]
        berth_cmd = [self.berth, "apply", "-f", self.manifest, "--store", "{dest}", "--yes"]
        sync_cmd = ["skopeo", "--insecure-policy", "sync", "--src", "yaml", "--dest", "dir", self.sync_yaml, "{dest}"]
        fill = lambda cmd, dest: [c.replace("{dest}", dest) for c in cmd]
        for i in range(a.reps):
            for tool in ("berth", "skopeo_copy", "skopeo_sync"):
                if tool != "berth" and a.only_berth:
                    continue
                dest = os.path.join(self.work, f"dest-{tool}")
                rmtree(dest)
                if tool == "skopeo_sync":
                    os.makedirs(dest)
                subprocess.run(["sync"])
                self.note_load(f"{tool} cold {i}")
                for phase, bucket in (("cold", runs), ("noop", noops)):
                    if tool == "skopeo_sync" and phase == "noop":
                        continue   # skopeo sync refuses to write into an existing dir destination
                    m = self.reg.mark()
                    out = self.out(f"{tool}-{phase}-{i}")
                    if tool == "berth":
                        r = measure(fill(berth_cmd, dest), out=out)
                    elif tool == "skopeo_copy":
                        r = measure_seq([fill(c, dest) for c in copy_cmds], out=out)
                    else:
                        r = measure(fill(sync_cmd, dest), out=out)
                    r["requests"], r["registry_cpu"] = self.reg.since(m)
                    bucket[tool].append(r)
                    log(f"{tool} {phase} #{i + 1}: {r['wall']:.2f}s, {r['requests']['HEAD']} HEAD / {r['requests']['GET']} GET, "
                        f"rss {r['rss_kb'] / 1024:.0f} MiB, cpu {r['cpu']:.1f}s, load {loadavg()[0]:.1f}")
                if tool == "berth" and i == 0:
                    v = measure([self.berth, "store", "verify", "--store", dest], out=self.out("berth-verify"), check=False)
                    self.r["bench_store_verify_rc"] = v["rc"]
                rmtree(dest)
        sec = self.r["sections"]
        sec["cold"] = {k: summarize(v) for k, v in runs.items() if v}
        sec["noop"] = {k: summarize(v) for k, v in noops.items() if v}
        if runs["skopeo_sync"]:
            sec["noop"]["skopeo_sync"] = {"not_applicable": "skopeo sync --dest dir refuses to overwrite an existing image "
                                                            "directory, so there is no re-converge to time"}

    # -- the pairs measured again on another set or through the shaper -------------------------

    def write_manifests(self, name, host, tags):
        """berth's manifest for `tags` ((repo, tag) pairs) on `host`; returns its path."""
        path = os.path.join(self.work, name + ".yaml")
        repos = sorted({r for r, _ in tags})
        with open(path, "w") as f:
            f.write(f"version: 1\nplatform: linux/amd64\nregistries:\n  {host}:\n    insecure: true\nimages:\n")
            for repo in repos:
                ts = [t for r, t in tags if r == repo]
                f.write(f"  - name: {host}/{repo}\n    tags: [{', '.join(json.dumps(t) for t in ts)}]\n")
        return path

    def pairs(self, label, host, tags, manifest, reps, tools=("berth", "skopeo_copy"), env=None):
        """Cold then no-op of berth apply and the skopeo copy loop (and `berth_single_stream`:
        berth with BERTH_BLOB_RANGES=off; `berth_parallel8`: --parallel 8) on `host`,
        repetitions interleaved. Returns
        ({tool: [cold runs]}, {tool: [no-op runs]})."""
        copy_cmds = [["skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false",
                      f"docker://{host}/{repo}:{tag}", f"oci:{{dest}}:{repo}:{tag}"] for repo, tag in tags]
        berth_cmd = [self.berth, "apply", "-f", manifest, "--store", "{dest}", "--yes"]
        fill = lambda cmd, dest: [c.replace("{dest}", dest) for c in cmd]
        runs, noops = {t: [] for t in tools}, {t: [] for t in tools}
        for i in range(reps):
            for tool in tools:
                dest = os.path.join(self.work, f"dest-{label}-{tool}")
                rmtree(dest)
                subprocess.run(["sync"])
                self.note_load(f"{label} {tool} cold {i}")
                e = dict(os.environ, **(env or {}))
                if tool == "berth_single_stream":
                    e["BERTH_BLOB_RANGES"] = "off"
                for phase, bucket in (("cold", runs), ("noop", noops)):
                    m = self.reg.mark()
                    p0 = self.shaper.snapshot() if getattr(self, "shaper", None) else None
                    out = self.out(f"{label}-{tool}-{phase}-{i}")
                    if tool.startswith("berth"):
                        extra = ["--parallel", "8"] if tool == "berth_parallel8" else []
                        r = measure(fill(berth_cmd, dest) + extra, env=e, out=out)
                    else:
                        r = measure_seq([fill(c, dest) for c in copy_cmds], env=e, out=out)
                    r["requests"], r["registry_cpu"] = self.reg.since(m)
                    if p0 is not None:
                        r["shaper"] = self.shaper.delta(p0)
                    bucket[tool].append(r)
                    log(f"{label} {tool} {phase} #{i + 1}: {r['wall']:.2f}s, {r['requests']['HEAD']} HEAD / {r['requests']['GET']} GET, "
                        f"rss {r['rss_kb'] / 1024:.0f} MiB, cpu {r['cpu']:.1f}s, load {loadavg()[0]:.1f}")
                rmtree(dest)
        return runs, noops

    # -- zstd: the same set with zstd layers -------------------------------------------------------

    def seed_zstd(self):
        """zstd/<repo>:<tag> for every tag, converted by skopeo (registry → registry,
        --dest-compress-format zstd, --format oci: docker schema 2 has no zstd layer type), through
        an OCI layout; cached with the registry's storage."""
        marker = os.path.join(self.reg.storage, "zstd-v3-seeded.txt")
        if not os.path.exists(marker):
            log("seeding the zstd variant of the set (skopeo copy --dest-compress-format zstd)")
            t = time.perf_counter()
            # Through an OCI layout: straight registry → registry, skopeo 1.9 mounts the gzip blob the
            # registry already holds instead of recompressing it (it has no --force-compression).
            layout = os.path.join(self.work, "zstd-layout")
            rmtree(layout)
            for repo, tag, _ in self.tags:
                subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", "--format", "oci",
                                "--dest-compress-format", "zstd", f"docker://{self.reg.host}/{repo}:{tag}",
                                f"oci:{layout}:{repo}:{tag}"], check=True, capture_output=True)
                subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
                                f"oci:{layout}:{repo}:{tag}", f"docker://{self.reg.host}/zstd/{repo}:{tag}"], check=True, capture_output=True)
            rmtree(layout)
            with open(marker, "w") as f:
                f.write(f"{time.perf_counter() - t:.1f}\n")
        return [(f"zstd/{repo}", tag) for repo, tag, _ in self.tags]

    def zstd(self):
        tags = self.seed_zstd()
        blobs, types = {}, set()
        for repo, tag in tags:
            doc, _ = self.reg.get_json(f"/v2/{repo}/manifests/{tag}", MANIFEST_ACCEPT)
            for d in [doc["config"]] + doc["layers"]:
                blobs[d["digest"]] = d["size"]
            types.update(l["mediaType"] for l in doc["layers"])
        manifest = self.write_manifests("bench-zstd", self.reg.host, tags)
        runs, noops = self.pairs("zstd", self.reg.host, tags, manifest, self.a.reps)
        self.r["sections"]["zstd"] = {
            "set": {"tags": len(tags), "distinct_blobs": len(blobs), "distinct_bytes": sum(blobs.values()),
                    "layer_media_types": sorted(types)},
            "cold": {k: summarize(v) for k, v in runs.items()},
            "noop": {k: summarize(v) for k, v in noops.items()},
        }
        log(f"zstd set: {len(blobs)} distinct blobs, {sum(blobs.values()) / 1e6:.0f} MB, layer types {sorted(types)}")

    # -- WAN: the same comparisons through the shaping proxy ---------------------------------------

    def wan(self):
        a = self.a
        self.shaper = Shaper(self.work, self.reg.host, a.wan_rtt_ms, a.wan_conn_mbit, a.wan_total_mbit)
        try:
            host = self.shaper.host
            tags = [(repo, tag) for repo, tag, _ in self.tags]
            manifest = self.write_manifests("bench-wan", host, tags)
            tools = ("berth", "berth_single_stream", "berth_parallel8", "skopeo_copy")
            runs, noops = self.pairs("wan", host, tags, manifest, a.wan_reps, tools=tools)
            bw = a.wan_total_mbit * 1e6 / 8
            distinct = self.r["set"]["distinct_bytes"]
            levels = 3
            res = {
                "profile": {"rtt_ms": a.wan_rtt_ms, "conn_mbit": a.wan_conn_mbit, "total_mbit": a.wan_total_mbit,
                            "shaper": "bench/shape_proxy.py", "shaper_cpu": None},
                "cold": {k: summarize(v) for k, v in runs.items()},
                "noop": {k: summarize(v) for k, v in noops.items()},
                "limit": {"seconds": distinct / bw + levels * a.wan_rtt_ms / 1000, "bytes": distinct, "levels": levels,
                          "noop_seconds": 2 * a.wan_rtt_ms / 1000,
                          "model": "distinct bytes / total bandwidth + one RTT per dependency level (tag → manifest → "
                                   "config and layers: 3); the no-op limit is one connection and one HEAD round trip (2 RTT)"},
            }
            if self.big and "big" in a.sections and not a.skip_big:
                big_manifest = self.write_manifests("big-wan", host, [("bench/big", "1.0")])
                big = {}
                for tool in ("berth", "berth_single_stream"):
                    rs = []
                    for i in range(a.wan_big_reps):
                        dest = os.path.join(self.work, "dest-big-wan")
                        rmtree(dest)
                        e = dict(os.environ, BERTH_BLOB_RANGES="off") if tool == "berth_single_stream" else None
                        p0 = self.shaper.snapshot()
                        r = measure([self.berth, "apply", "-f", big_manifest, "--store", dest, "--yes"], env=e, out=self.out(f"big-wan-{tool}-{i}"))
                        r["shaper"] = self.shaper.delta(p0)
                        rs.append(r)
                        log(f"wan big layer {tool} #{i + 1}: {r['wall']:.2f}s, peak RSS {r['rss_kb'] / 1024:.1f} MiB, "
                            f"{r['shaper']['connections']} connections")
                        rmtree(dest)
                    big[tool] = summarize(rs)
                dest = os.path.join(self.work, "dest-big-wan-skopeo")
                rmtree(dest)
                sk = measure(["skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false",
                              f"docker://{host}/bench/big:1.0", f"oci:{dest}:big"], out=self.out("big-wan-skopeo"))
                rmtree(dest)
                big["skopeo_copy"] = summarize([sk])
                big["layer_bytes"] = self.big["compressed_bytes"]
                big["limit_seconds"] = self.big["compressed_bytes"] / bw + levels * a.wan_rtt_ms / 1000
                big["one_connection_seconds"] = self.big["compressed_bytes"] / (a.wan_conn_mbit * 1e6 / 8)
                res["big_layer"] = big
            res["profile"]["shaper_cpu"] = self.shaper.cpu()
            res["shaper_stats"] = self.shaper.stats()
            self.r["sections"]["wan"] = res
        finally:
            self.shaper.stop()
            self.shaper = None

    # -- 3, 4: Docker Engine --------------------------------------------------------------------

    def docker(self):
        a = self.a
        host = self.reg.host
        if not shutil.which("dockerd") and not os.path.exists("/usr/sbin/dockerd"):
            self.r["sections"]["docker"] = {"skipped": "dockerd is not installed"}
            return
        runs = {"berth_dockerd": [], "docker_pull": []}
        noops = {"berth_dockerd": [], "docker_pull": []}
        pulls = [["docker", "pull", "-q", f"{host}/{repo}:{tag}"] for repo, tag, _ in self.tags]
        for i in range(a.docker_reps):
            for tool in ("berth_dockerd", "docker_pull"):
                d = Dockerd(host)
                try:
                    state = os.path.join(d.dir, "berth-state")
                    env = d.env({"XDG_STATE_HOME": state})
                    cmd = [self.berth, "apply", "-f", self.manifest, "--docker-host", d.host, "--yes"]
                    self.note_load(f"{tool} cold {i}")
                    for phase, bucket in (("cold", runs), ("noop", noops)):
                        m = self.reg.mark()
                        out = self.out(f"{tool}-{phase}-{i}")
                        r = measure(cmd, env=env, out=out) if tool == "berth_dockerd" else measure_seq(pulls, env=env, out=out)
                        r["requests"], r["registry_cpu"] = self.reg.since(m)
                        r["engine_images"] = d.image_count()
                        bucket[tool].append(r)
                        log(f"{tool} {phase} #{i + 1}: {r['wall']:.2f}s, {r['requests']['HEAD']} HEAD / {r['requests']['GET']} GET, "
                            f"{r['engine_images']} images, load {loadavg()[0]:.1f}")
                finally:
                    d.stop()
        self.r["sections"]["docker"] = {"storage_driver": "vfs",
                                        "cold": {k: summarize(v) for k, v in runs.items()},
                                        "noop": {k: summarize(v) for k, v in noops.items()}}

    # -- Peak RSS on one large layer --------------------------------------------------------------

    def big_layer(self):
        if not self.big:
            return
        runs = []
        for i in range(self.a.big_reps):
            dest = os.path.join(self.work, "dest-big")
            rmtree(dest)
            self.note_load(f"big layer {i}")
            m = self.reg.mark()
            r = measure([self.berth, "apply", "-f", self.big_manifest, "--store", dest, "--yes"], out=self.out(f"big-{i}"))
            r["requests"], r["registry_cpu"] = self.reg.since(m)
            runs.append(r)
            log(f"big layer #{i + 1}: {r['wall']:.2f}s, peak RSS {r['rss_kb'] / 1024:.1f} MiB")
            rmtree(dest)
        dest = os.path.join(self.work, "dest-big-skopeo")
        rmtree(dest)
        sk = measure(["skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false",
                      f"docker://{self.reg.host}/bench/big:1.0", f"oci:{dest}:big"], out=self.out("big-skopeo"))
        rmtree(dest)
        self.r["sections"]["big_layer"] = {
            "layer_bytes": self.big["compressed_bytes"], "uncompressed_bytes": self.big["uncompressed_bytes"],
            "berth": summarize(runs),
            "berth_mb_per_s": self.big["compressed_bytes"] / statistics.median(x["wall"] for x in runs) / 1e6,
            "skopeo_copy": {"wall": sk["wall"], "rss_mb": sk["rss_kb"] / 1024},
        }

    # -- Offline plan on a large store ------------------------------------------------------------

    def large_store(self):
        """The offline plan on a synthetic store at 1× (5,000 images / 20,000 tags / 1,000 entries)
        and at 10× (50,000 / 200,000 / 10,000, `--large-scales`)."""
        res = {}
        for scale in self.a.large_scales:
            key = "" if scale == 1 else f"_x{scale}"
            base = os.path.join(self.work, "large-store-v2" + key)
            store, mdir = os.path.join(base, "store"), os.path.join(base, "manifests")
            info_path = os.path.join(base, "info.json")
            if not os.path.exists(info_path):
                rmtree(base)
                log(f"synthesizing the large store ({5000 * scale:,} images, {20000 * scale:,} tags)")
                r = subprocess.run([sys.executable, os.path.join(HERE, "make_large_store.py"), store, mdir,
                                    "--images", str(5000 * scale), "--tags", str(20000 * scale),
                                    "--entries", str(1000 * scale), "--ledger", str(5000 * scale)],
                                   capture_output=True, text=True, check=True)
                with open(info_path, "w") as f:
                    f.write(r.stdout)
            info = json.load(open(info_path))
            part = {"store": info}
            for name in ("big", "big-untag"):
                runs = []
                for i in range(self.a.plan_reps):
                    runs.append(measure([self.berth, "plan", "--offline", "-f", os.path.join(mdir, name + ".yaml"), "--store", store],
                                        out=self.out(f"plan-{name}{key}-{i}")))
                part["plan_" + name.replace("-", "_")] = summarize(runs)
                log(f"offline plan ({name}, {scale}×): median {statistics.median(x['wall'] for x in runs):.3f}s, "
                    f"peak RSS {max(x['rss_kb'] for x in runs) / 1024:.0f} MiB")
            tail = open(self.out(f"plan-big{key}-0")).read().strip().splitlines()[-1:]
            part["plan_summary_line"] = tail[0] if tail else ""
            if scale == 1:
                v = measure([self.berth, "store", "verify", "--store", store], out=self.out("large-verify"), check=False)
                part["verify"] = {"rc": v["rc"], "wall": v["wall"], "rss_mb": v["rss_kb"] / 1024,
                                  "output_tail": open(self.out("large-verify")).read().strip().splitlines()[-3:]}
                log(f"store verify on the large store: exit {v['rc']} in {v['wall']:.1f}s")
                res.update(part)
            else:
                res[f"x{scale}"] = part
        self.r["sections"]["large_store"] = res

    # -- results ----------------------------------------------------------------------------------

    def targets(self):
        s = self.r["sections"]
        t = []
        med = lambda x: x["wall"]["median"] if x else None

        def add(name, target, measured, ok, note=""):
            t.append({"target": name, "goal": target, "measured": measured, "met": ok, "note": note})

        cold, noop = s.get("cold", {}), s.get("noop", {})
        if "berth" in cold and "skopeo_copy" in cold:
            ratio = med(cold["skopeo_copy"]) / med(cold["berth"])
            add("cold converge vs sequential skopeo copy", ">= 2.0x faster", round(ratio, 2), ratio >= 2.0)
        if "berth" in cold and "limit" in s:
            ratio = med(cold["berth"]) / s["limit"]["limit"]
            add("cold converge vs the limit", "<= 1.5x the limit", round(ratio, 2), ratio <= 1.5,
                f"vs limit_simple: {med(cold['berth']) / s['limit']['limit_simple']:.2f}x")
        if "berth" in noop:
            b = noop["berth"]
            heads, gets = b["requests"]["HEAD"]["max"], b["requests"]["GET"]["max"]
            add("no-op: one HEAD per tag", f"{len(self.tags)} HEAD", heads, heads == len(self.tags))
            add("no-op: no GETs", "0 GET", gets, gets == 0)
            add("no-op wall time", "< 0.2 s", round(med(b), 3), med(b) < 0.2)
        if "big_layer" in s:
            rss = s["big_layer"]["berth"]["rss_mb"]["max"]
            add("peak RSS pulling the big layer", "< 64 MB", round(rss, 1), rss < 64,
                f"layer {s['big_layer']['layer_bytes'] / 1e6:.0f} MB")
        w = s.get("wan")
        if w and "berth" in w["cold"] and "skopeo_copy" in w["cold"]:
            ratio = med(w["cold"]["berth"]) / med(w["cold"]["skopeo_copy"])
            add("WAN cold converge vs the skopeo copy loop", "<= 0.33x", round(ratio, 2), ratio <= 0.33,
                f"{med(w['cold']['berth']):.1f} s vs {med(w['cold']['skopeo_copy']):.1f} s")
            ratio = med(w["cold"]["berth"]) / w["limit"]["seconds"]
            add("WAN cold converge vs the network limit", "<= 1.2x", round(ratio, 2), ratio <= 1.2,
                f"limit {w['limit']['seconds']:.1f} s")
            ratio = med(w["noop"]["berth"]) / med(w["noop"]["skopeo_copy"])
            add("WAN no-op vs the skopeo copy loop", "<= 0.33x", round(ratio, 3), ratio <= 0.33,
                f"{med(w['noop']['berth']):.2f} s vs {med(w['noop']['skopeo_copy']):.1f} s")
        if w and "big_layer" in w:
            b = w["big_layer"]
            ratio = med(b["berth"]) / b["limit_seconds"]
            add("WAN one big layer vs the network limit", "<= 1.2x", round(ratio, 2), ratio <= 1.2,
                f"{med(b['berth']):.1f} s; one stream {med(b['berth_single_stream']):.1f} s; limit {b['limit_seconds']:.1f} s")
        if "plan_big" in s.get("large_store", {}):
            p = s["large_store"]["plan_big"]
            add("offline plan, 5,000 images / 20,000 tags / 1,000 entries", "< 0.5 s", round(med(p), 3), med(p) < 0.5)
            add("offline plan memory", "< 100 MB", round(p["rss_mb"]["max"], 1), p["rss_mb"]["max"] < 100)
            add("store verify accepts the synthetic store", "exit 0", s["large_store"]["verify"]["rc"],
                s["large_store"]["verify"]["rc"] == 0)
        if "large_store" in s:
            if "x10" in s["large_store"]:
                p10 = s["large_store"]["x10"]["plan_big"]
                add("offline plan, 50,000 images / 200,000 tags / 10,000 entries", "< 2.5 s", round(med(p10), 3), med(p10) < 2.5)
                add("offline plan memory at 10×", "< 400 MB", round(p10["rss_mb"]["max"], 1), p10["rss_mb"]["max"] < 400)
        self.r["targets"] = t

    def machine(self):
        def ver(cmd):
            try:
                return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
            except Exception:
                return None
        mem = [l for l in open("/proc/meminfo") if l.startswith("MemTotal")][0].split()[1]
        cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
        git = ver(["git", "-C", REPO, "rev-parse", "HEAD"])
        self.r["berth_binary"] = {"path": self.berth, "built_from_repo": os.path.dirname(self.berth) == os.path.join(REPO, ".build-bench/release"), "version": ver([self.berth, "--version"]),
                                  "sha256": subprocess.run(["sha256sum", self.berth], capture_output=True, text=True).stdout.split(" ")[0]}
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "Sources", "Package.swift"],
                               capture_output=True, text=True).stdout.strip() != ""
        self.r["machine"] = {
            "cpus": os.cpu_count(), "cpu_model": cpu[0] if cpu else None, "mem_gib": round(int(mem) / 1048576, 1),
            "kernel": platform.release(), "berth_commit": git, "berth_sources_dirty": dirty,
            "skopeo": ver(["skopeo", "--version"]), "docker": ver(["docker", "--version"]),
            "dockerd": ver(["dockerd", "--version"]), "registry": ver(["docker-registry", "--version"]),
            "swift": ver(["swift", "--version"]),
        }

    def run(self):
        a = self.a
        self.machine()
        self.r["started"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        self.note_load("start")
        try:
            self.seed()
            self.discover_blobs()
            if "limit" in a.sections:
                self.limit()
            if "embedded" in a.sections:
                self.embedded()
            if "docker" in a.sections and not a.skip_docker:
                try:
                    self.docker()
                except (RuntimeError, CommandFailed) as e:
                    log(f"docker section failed: {e}")
                    self.r["sections"]["docker"] = {"error": str(e)[-2000:]}
            if "big" in a.sections and not a.skip_big and a.profile != "wan":
                self.big_layer()
            if "large" in a.sections:
                self.large_store()
            if "zstd" in a.sections:
                self.zstd()
            if "wan" in a.sections:
                self.wan()
        finally:
            self.note_load("end")
            self.r["seconds"] = round(time.monotonic() - T0, 1)
            PROCS.stop_all()
        self.targets()
        self.write()

    def write(self):
        res = self.a.results
        os.makedirs(res, exist_ok=True)
        stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M")
        suffix = "-quick" if self.a.quick else ""
        doc = json.dumps(self.r, indent=2, sort_keys=True) + "\n"
        for name in (f"{stamp}{suffix}.json", f"latest{suffix}.json"):
            with open(os.path.join(res, name), "w") as f:
                f.write(doc)
        import chart
        svg = chart.render(self.r)
        with open(os.path.join(res, f"chart{suffix}.svg"), "w") as f:
            f.write(svg)
        log(f"wrote {res}/{stamp}{suffix}.json, latest{suffix}.json, chart{suffix}.svg")
        if not self.a.quick and os.path.abspath(res) == os.path.join(HERE, "results"):
            readme = os.path.join(HERE, "README.md")
            text = open(readme).read()
            begin, end = "<!-- PERFORMANCE:BEGIN -->\n", "<!-- PERFORMANCE:END -->"
            if begin in text and end in text:
                head, rest = text.split(begin, 1)
                text = head + begin + chart.markdown(self.r) + end + rest.split(end, 1)[1]
                with open(readme, "w") as f:
                    f.write(text)
                log("updated the Performance section of bench/README.md")
        for t in self.r["targets"]:
            log(f"{'MET ' if t['met'] else 'MISS'} {t['target']}: {t['measured']} (goal {t['goal']}) {t['note']}")


def summarize(runs):
    """min/median/max of wall, CPU, peak RSS and request counts over repetitions."""
    out = {"wall": stats(r["wall"] for r in runs), "cpu": stats(r["cpu"] for r in runs),
           "rss_mb": stats(r["rss_kb"] / 1024 for r in runs)}
    if "registry_cpu" in runs[0]:
        out["registry_cpu"] = stats(r["registry_cpu"] for r in runs)
    if "requests" in runs[0]:
        out["requests"] = {k: {"min": min(r["requests"][k] for r in runs), "max": max(r["requests"][k] for r in runs)}
                           for k in runs[0]["requests"]}
    if "engine_images" in runs[0]:
        out["engine_images"] = [r["engine_images"] for r in runs]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="scale 0.05, 2 repetitions")
    ap.add_argument("--scale", type=float)
    ap.add_argument("--reps", type=int)
    ap.add_argument("--docker-reps", type=int)
    ap.add_argument("--big-reps", type=int)
    ap.add_argument("--plan-reps", type=int, default=5)
    ap.add_argument("--large-scales", type=lambda t: [int(x) for x in t.split(",")], default=[1, 10],
                    help="scales of the synthetic large store for the offline plan (1 = 5,000 images)")
    ap.add_argument("--fetch-parallel", type=int, default=8)
    ap.add_argument("--work", default=os.environ.get("BENCH_WORK", "/var/tmp/berth-bench"))
    ap.add_argument("--bin-dir", default=os.path.join(REPO, ".build-bench/release"),
                    help="where berth and berth-testbed are (run.sh builds them there)")
    ap.add_argument("--results", default=os.path.join(HERE, "results"),
                    help="where results and the chart go (default bench/results)")
    ap.add_argument("--fresh", action="store_true", help="re-seed the registry even if a seeded one is cached")
    ap.add_argument("--skip-docker", action="store_true")
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--only-berth", action="store_true", help="embedded section: berth only (for profiling loops)")
    ap.add_argument("--sections", default="limit,embedded,docker,big,large,zstd,wan")
    ap.add_argument("--profile", choices=("loopback", "wan", "both"), default="both",
                    help="loopback: the sections on the registry directly (and the zstd set); wan: the cold and no-op "
                         "cases through bench/shape_proxy.py (and the big layer); both (default)")
    ap.add_argument("--wan-rtt-ms", type=float, default=40.0)
    ap.add_argument("--wan-conn-mbit", type=float, default=200.0)
    ap.add_argument("--wan-total-mbit", type=float, default=500.0)
    ap.add_argument("--wan-reps", type=int, help="repetitions through the shaper (default: --reps)")
    ap.add_argument("--wan-big-reps", type=int, default=1)
    a = ap.parse_args()
    a.sections = set(a.sections.split(","))
    if a.profile == "loopback":
        a.sections.discard("wan")
    elif a.profile == "wan":
        a.sections &= {"wan", "big"}
    if a.scale is None:
        a.scale = 0.05 if a.quick else 1.0
    if a.reps is None:
        a.reps = 2 if a.quick else 3
    if a.docker_reps is None:
        a.docker_reps = a.reps
    if a.big_reps is None:
        a.big_reps = a.reps
    if a.wan_reps is None:
        a.wan_reps = a.reps
    os.makedirs(a.work, exist_ok=True)
    sys.path.insert(0, HERE)

    def on_signal(sig, _):
        PROCS.stop_all()
        sys.exit(128 + sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    Bench(a).run()


if __name__ == "__main__":
    main()
