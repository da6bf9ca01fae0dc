#!/usr/bin/env python3
"""Renders a results document (bench/results/*.json) as an SVG chart, without dependencies.

Usage: chart.py RESULTS.json [OUT.svg]   (bench.py calls render() directly)
"""
import html
import json
import math
import sys

W = 960
LEFT = 250          # label column
RIGHT = 190         # value column
BAR_H = 18
ROW_H = 28
COLORS = {"berth": "#2b6cb0", "other": "#a0aec0", "limit": "#38a169"}


def nice_max(v):
    if v <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * e >= v:
            return m * e
    return 10 * e


def fmt_s(v):
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.1f} s" if v < 100 else f"{v:.0f} s"


def panel(title, rows, y, subtitle=""):
    """rows: (label, kind, median, lo, hi, note). Returns (svg parts, height)."""
    parts = [f'<text x="20" y="{y + 18}" class="h">{html.escape(title)}</text>']
    if subtitle:
        parts.append(f'<text x="20" y="{y + 36}" class="s">{html.escape(subtitle)}</text>')
    top = y + (48 if subtitle else 32)
    shown = [r for r in rows if r[2] is not None]
    notes = [r for r in rows if r[2] is None and r[5]]
    rows = shown
    if not rows:
        parts.append(f'<text x="{LEFT}" y="{top + 14}" class="s">not measured in this run</text>')
        return parts, top - y + 30
    vmax = nice_max(max(r[4] if r[4] is not None else r[2] for r in rows))
    span = W - LEFT - RIGHT
    x = lambda v: LEFT + span * (v / vmax)
    for t in range(0, 6):
        v = vmax * t / 5
        parts.append(f'<line x1="{x(v):.1f}" y1="{top - 4}" x2="{x(v):.1f}" y2="{top + ROW_H * len(rows)}" class="grid"/>')
        parts.append(f'<text x="{x(v):.1f}" y="{top + ROW_H * len(rows) + 14}" class="tick">{fmt_s(v) if v else "0"}</text>')
    for i, (label, kind, med, lo, hi, note) in enumerate(rows):
        ry = top + i * ROW_H
        parts.append(f'<text x="{LEFT - 10}" y="{ry + 14}" class="l">{html.escape(label)}</text>')
        parts.append(f'<rect x="{LEFT}" y="{ry + 2}" width="{max(1.0, x(med) - LEFT):.1f}" height="{BAR_H}" fill="{COLORS[kind]}"/>')
        if lo is not None and hi is not None and hi > lo:
            cy = ry + 2 + BAR_H / 2
            parts.append(f'<line x1="{x(lo):.1f}" y1="{cy}" x2="{x(hi):.1f}" y2="{cy}" class="wh"/>')
            for v in (lo, hi):
                parts.append(f'<line x1="{x(v):.1f}" y1="{cy - 5}" x2="{x(v):.1f}" y2="{cy + 5}" class="wh"/>')
        text = fmt_s(med) + (f"  {note}" if note else "")
        parts.append(f'<text x="{W - RIGHT + 8}" y="{ry + 15}" class="v">{html.escape(text)}</text>')
    for i, (label, _, _, _, _, note) in enumerate(notes):
        ry = top + len(rows) * ROW_H + 24 + i * 20
        parts.append(f'<text x="{LEFT - 10}" y="{ry + 14}" class="l">{html.escape(label)}</text>')
        parts.append(f'<text x="{LEFT + 4}" y="{ry + 14}" class="s">{html.escape(note)}</text>')
    return parts, top - y + ROW_H * len(rows) + 26 + 20 * len(notes)


def row(label, kind, entry, note=""):
    if entry and "not_applicable" in entry:
        return (label, kind, None, None, None, "n/a: " + entry["not_applicable"])
    if not entry or "wall" not in entry:
        return (label, kind, None, None, None, note)
    w = entry["wall"]
    return (label, kind, w["median"], w["min"], w["max"], note)


def reqs(entry):
    if not entry or "requests" not in entry:
        return ""
    r = entry["requests"]
    return f"{r['HEAD']['max']} HEAD, {r['GET']['max']} GET"


def render(r):
    s = r.get("sections", {})
    cold, noop = s.get("cold", {}), s.get("noop", {})
    dk = s.get("docker", {}) if "cold" in s.get("docker", {}) else {}
    lim = s.get("limit")
    setinfo = r.get("set", {})
    cold_rows = [
        row("berth apply (embedded store)", "berth", cold.get("berth")),
        row("skopeo copy loop → one OCI layout", "other", cold.get("skopeo_copy")),
        row("skopeo sync → dir", "other", cold.get("skopeo_sync")),
        row("berth apply → dockerd (vfs)", "berth", dk.get("cold", {}).get("berth_dockerd")),
        row("docker pull loop → dockerd (vfs)", "other", dk.get("cold", {}).get("docker_pull")),
    ]
    if lim:
        cold_rows.append(("limit (fetch + sha256 + inflate)", "limit", lim["limit"], None, None, ""))
    noop_rows = [
        row("berth apply (embedded store)", "berth", noop.get("berth"), reqs(noop.get("berth"))),
        row("skopeo copy loop", "other", noop.get("skopeo_copy"), reqs(noop.get("skopeo_copy"))),
        row("skopeo sync → dir", "other", noop.get("skopeo_sync"), reqs(noop.get("skopeo_sync"))),
        row("berth apply → dockerd", "berth", dk.get("noop", {}).get("berth_dockerd"), reqs(dk.get("noop", {}).get("berth_dockerd"))),
        row("docker pull loop", "other", dk.get("noop", {}).get("docker_pull"), reqs(dk.get("noop", {}).get("docker_pull"))),
    ]
    load = r.get("load", [])
    loads = [l["loadavg"][0] for l in load]
    m = r.get("machine", {})
    sub = (f"{setinfo.get('tags', '?')} tags, {setinfo.get('repositories', '?')} repositories, "
           f"{setinfo.get('distinct_bytes', 0) / 1e6:.0f} MB of distinct blobs; median of {r.get('reps')} runs, whiskers min–max")
    parts, y = [], 56
    p, h = panel("Cold converge into an empty store (lower is better)", cold_rows, y, sub)
    parts += p
    y += h + 10
    p, h = panel("No-op re-converge, everything current (lower is better)", noop_rows, y,
                 "requests counted from the registry's access log")
    parts += p
    y += h + 10
    w = s.get("wan")
    if w:
        pr = w["profile"]
        wsub = (f"through bench/shape_proxy.py: RTT {pr['rtt_ms']:g} ms, {pr['conn_mbit']:g} Mbit/s per connection, "
                f"{pr['total_mbit']:g} Mbit/s total; limit = distinct bytes / total bandwidth + {w['limit']['levels']} RTT")
        wan_rows = [
            row("berth apply (ranged fetch)", "berth", w["cold"].get("berth")),
            row("berth apply, one stream per blob", "berth", w["cold"].get("berth_single_stream")),
            row("berth apply --parallel 8", "berth", w["cold"].get("berth_parallel8")),
            row("skopeo copy loop → one OCI layout", "other", w["cold"].get("skopeo_copy")),
            ("network limit", "limit", w["limit"]["seconds"], None, None, ""),
        ]
        p, h = panel("WAN: cold converge (lower is better)", wan_rows, y, wsub)
        parts += p
        y += h + 10
        wan_noop = [
            row("berth apply", "berth", w["noop"].get("berth"), reqs(w["noop"].get("berth"))),
            row("skopeo copy loop", "other", w["noop"].get("skopeo_copy"), reqs(w["noop"].get("skopeo_copy"))),
            ("network limit (connect + one HEAD)", "limit", w["limit"]["noop_seconds"], None, None, ""),
        ]
        p, h = panel("WAN: no-op re-converge (lower is better)", wan_noop, y)
        parts += p
        y += h + 10
        bl = w.get("big_layer")
        if bl:
            big_rows = [
                row("berth apply (ranged fetch)", "berth", bl.get("berth")),
                row("berth apply, one stream", "berth", bl.get("berth_single_stream")),
                row("skopeo copy", "other", bl.get("skopeo_copy")),
                ("network limit", "limit", bl["limit_seconds"], None, None, ""),
            ]
            p, h = panel(f"WAN: one {bl['layer_bytes'] / 1e6:.0f} MB layer (lower is better)", big_rows, y,
                         f"one connection alone needs {fmt_s(bl['one_connection_seconds'])}")
            parts += p
            y += h + 10
    z = s.get("zstd")
    if z:
        zrows = [
            row("berth apply, cold", "berth", z["cold"].get("berth")),
            row("skopeo copy loop, cold", "other", z["cold"].get("skopeo_copy")),
            row("berth apply, no-op", "berth", z["noop"].get("berth"), reqs(z["noop"].get("berth"))),
            row("skopeo copy loop, no-op", "other", z["noop"].get("skopeo_copy"), reqs(z["noop"].get("skopeo_copy"))),
        ]
        p, h = panel("zstd variant of the set, loopback (lower is better)", zrows, y,
                     f"{z['set']['tags']} tags, {z['set']['distinct_bytes'] / 1e6:.0f} MB of distinct blobs, layers "
                     f"{', '.join(t.rsplit('.', 1)[-1] for t in z['set']['layer_media_types'])}")
        parts += p
        y += h + 10
    facts = []
    bl = s.get("big_layer")
    if bl:
        facts.append(f"Peak RSS pulling one {bl['layer_bytes'] / 1e6:.0f} MB layer: berth {bl['berth']['rss_mb']['max']:.1f} MiB "
                     f"(skopeo {bl['skopeo_copy']['rss_mb']:.1f} MiB); berth {bl['berth_mb_per_s']:.0f} MB/s on one stream")
    ls = s.get("large_store")
    if ls:
        pb = ls["plan_big"]
        facts.append(f"Offline plan, {ls['store']['images']:,} images / {ls['store']['tags']:,} tags / {ls['store']['entries']:,} entries: "
                     f"{fmt_s(pb['wall']['median'])} median, {pb['rss_mb']['max']:.0f} MiB peak")
    b = r.get("berth_binary", {})
    built = (f"berth {str(m.get('berth_commit'))[:10]}{' + uncommitted sources' if m.get('berth_sources_dirty') else ''}"
             if b.get("built_from_repo", True) else f"berth from {b.get('path')}")
    facts.append(f"Machine: {m.get('cpus')} CPUs, {m.get('mem_gib')} GiB; load average during the run "
                 f"{min(loads) if loads else 0:.1f}–{max(loads) if loads else 0:.1f}; {built}; {r.get('started', '')}")
    for f in facts:
        parts.append(f'<text x="20" y="{y + 14}" class="s">{html.escape(f)}</text>')
        y += 20
    height = y + 16
    title = "berth benchmark" + (" (quick: scale %g)" % r.get("scale") if r.get("quick") else "")
    head = f"""<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" viewBox="0 0 {W} {height}" font-family="Helvetica, Arial, sans-serif">
<style>
.t {{ font-size: 20px; font-weight: bold; fill: #1a202c; }}
.h {{ font-size: 15px; font-weight: bold; fill: #1a202c; }}
.s {{ font-size: 12px; fill: #4a5568; }}
.l {{ font-size: 12px; fill: #1a202c; text-anchor: end; }}
.v {{ font-size: 12px; fill: #1a202c; }}
.tick {{ font-size: 10px; fill: #718096; text-anchor: middle; }}
.grid {{ stroke: #e2e8f0; stroke-width: 1; }}
.wh {{ stroke: #1a202c; stroke-width: 1.2; }}
</style>
<rect width="100%" height="100%" fill="white"/>
<text x="20" y="32" class="t">{html.escape(title)}</text>
"""
    return head + "\n".join(parts) + "\n</svg>\n"


def markdown(r):
    """The README's Performance section for a results document: figures, ratios, targets."""
    s = r.get("sections", {})
    m = r.get("machine", {})
    loads = [l["loadavg"][0] for l in r.get("load", [])]
    def w(e):
        return e["wall"] if e and "wall" in e else None
    def f(e):
        x = w(e)
        return f"{fmt_s(x['median'])} ({fmt_s(x['min'])}–{fmt_s(x['max'])})" if x else "–"
    def q(e):
        if not e or "requests" not in e:
            return "–"
        rq = e["requests"]
        return f"{rq['HEAD']['max']} HEAD, {rq['GET']['max']} GET"
    cold, noop = s.get("cold", {}), s.get("noop", {})
    dk = s.get("docker", {}) if "cold" in s.get("docker", {}) else {}
    lim = s.get("limit")
    out = [f"Run of {r.get('started', '?')}: {m.get('cpus')} CPUs ({m.get('cpu_model')}), {m.get('mem_gib')} GiB, "
           f"load average {min(loads) if loads else 0:.1f}–{max(loads) if loads else 0:.1f} during the run; "
           f"{r.get('reps')} repetitions, median (min–max). Raw data: `results/latest.json`.", ""]
    out += ["| | cold converge | no-op re-converge | no-op requests |", "|---|---|---|---|"]
    rows = [("berth apply, embedded store", cold.get("berth"), noop.get("berth")),
            ("skopeo copy loop → OCI layout", cold.get("skopeo_copy"), noop.get("skopeo_copy")),
            ("skopeo sync → dir", cold.get("skopeo_sync"), None),
            ("berth apply → dockerd (vfs)", dk.get("cold", {}).get("berth_dockerd"), dk.get("noop", {}).get("berth_dockerd")),
            ("docker pull loop → dockerd (vfs)", dk.get("cold", {}).get("docker_pull"), dk.get("noop", {}).get("docker_pull"))]
    for label, c, n in rows:
        if c or n:
            out.append(f"| {label} | {f(c)} | {f(n) if n else 'n/a'} | {q(n)} |")
    if lim:
        out.append(f"| limit (this machine) | {fmt_s(lim['limit'])} | | |")
    out.append("")
    if lim:
        lc = lim["library_cpu"]
        out.append(f"Limit: parallel fetch {fmt_s(lim['fetch_wall']['median'])} "
                   f"({lim['bytes_compressed'] / 1e6 / lim['fetch_wall']['median']:.0f} MB/s, "
                   f"{lim['fetch_cpu_incl_registry']['median']:.2f} CPU-s with the registry); per {lim['bytes_compressed'] / 1e6:.0f} MB: "
                   f"sha256 {lc['sha256']['median']:.2f} CPU-s, inflate {lc['inflate']['median']:.2f} CPU-s "
                   f"({lim['bytes_uncompressed_layers'] / 1e6:.0f} MB out), sha256 of the tar {lc['sha256_uncompressed']['median']:.2f} CPU-s; "
                   f"{lim['cores']} cores → limit {fmt_s(lim['limit'])} (the brief's simpler model: {fmt_s(lim['limit_simple'])}; "
                   f"with sha256sum and gzip -dc: {fmt_s(lim['limit_cli_tools'])}).")
        out.append("")
    out += ["| target | goal | measured | |", "|---|---|---|---|"]
    for t in r.get("targets", []):
        out.append(f"| {t['target']} | {t['goal']} | {t['measured']}{(' (' + t['note'] + ')') if t.get('note') else ''} | "
                   f"{'met' if t['met'] else '**missed**'} |")
    wn, z = s.get("wan"), s.get("zstd")
    if wn:
        pr = wn["profile"]
        out += ["", f"WAN profile (through `bench/shape_proxy.py`: RTT {pr['rtt_ms']:g} ms, {pr['conn_mbit']:g} Mbit/s per "
                f"connection, {pr['total_mbit']:g} Mbit/s total; shaper CPU {pr.get('shaper_cpu') or 0:.1f} s over the section):", "",
                "| | cold converge | no-op re-converge | no-op requests |", "|---|---|---|---|"]
        for label, key in (("berth apply (ranged fetch)", "berth"), ("berth apply, one stream per blob", "berth_single_stream"),
                           ("berth apply --parallel 8", "berth_parallel8"), ("skopeo copy loop → OCI layout", "skopeo_copy")):
            if key in wn["cold"]:
                out.append(f"| {label} | {f(wn['cold'][key])} | {f(wn['noop'].get(key))} | {q(wn['noop'].get(key))} |")
        out.append(f"| network limit | {fmt_s(wn['limit']['seconds'])} | {fmt_s(wn['limit']['noop_seconds'])} | |")
        bl = wn.get("big_layer")
        if bl:
            out += ["", f"One {bl['layer_bytes'] / 1e6:.0f} MB layer through the shaper: berth {f(bl.get('berth'))} "
                    f"(one stream: {f(bl.get('berth_single_stream'))}), skopeo copy {f(bl.get('skopeo_copy'))}; "
                    f"network limit {fmt_s(bl['limit_seconds'])}, one connection alone {fmt_s(bl['one_connection_seconds'])}; "
                    f"peak RSS {bl['berth']['rss_mb']['max']:.1f} MiB."]
    if z:
        out += ["", f"zstd variant ({z['set']['tags']} tags, {z['set']['distinct_bytes'] / 1e6:.0f} MB distinct, converted by "
                "`skopeo copy --dest-compress-format zstd`), loopback:", "",
                "| | cold converge | no-op re-converge | no-op requests |", "|---|---|---|---|"]
        for label, key in (("berth apply", "berth"), ("skopeo copy loop", "skopeo_copy")):
            if key in z["cold"]:
                out.append(f"| {label} | {f(z['cold'][key])} | {f(z['noop'].get(key))} | {q(z['noop'].get(key))} |")
    bl, ls = s.get("big_layer"), s.get("large_store")
    out.append("")
    if bl:
        out.append(f"One {bl['layer_bytes'] / 1e6:.0f} MB layer: berth {f(bl['berth'])}, {bl['berth_mb_per_s']:.0f} MB/s on one "
                   f"stream, peak RSS {bl['berth']['rss_mb']['max']:.1f} MiB (skopeo copy: {fmt_s(bl['skopeo_copy']['wall'])}, "
                   f"{bl['skopeo_copy']['rss_mb']:.1f} MiB).")
    if ls:
        out.append(f"Offline plan on {ls['store']['images']:,} images / {ls['store']['tags']:,} tags, {ls['store']['entries']:,} entries: "
                   f"{f(ls['plan_big'])}, peak RSS {ls['plan_big']['rss_mb']['max']:.0f} MiB; with `unlisted: untag` "
                   f"{f(ls['plan_big_untag'])}, {ls['plan_big_untag']['rss_mb']['max']:.0f} MiB. `berth store verify` on it: "
                   f"exit {ls['verify']['rc']} in {fmt_s(ls['verify']['wall'])}.")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    doc = json.load(open(sys.argv[1]))
    svg = render(doc)
    if len(sys.argv) > 2:
        open(sys.argv[2], "w").write(svg)
    else:
        sys.stdout.write(svg)
