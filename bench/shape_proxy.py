#!/usr/bin/env python3
"""A userspace WAN shaper for the benchmark: a plain TCP proxy (HTTP-agnostic) that adds a
round-trip time and caps bandwidth per connection and in total, for a machine without netem.

    shape_proxy.py --listen 127.0.0.1:5001 --upstream 127.0.0.1:5000 \\
                   --rtt-ms 40 --conn-mbit 200 --total-mbit 500 --stats stats.json

Model (per direction, as on a full-duplex link):
- every chunk read is forwarded RTT/2 after it arrived (propagation), and the delay is
  pipelined: chunks queue with their due time, so a connection's throughput is not divided
  by the delay; a new connection's first client bytes wait one RTT more (the TCP handshake);
- then it passes two token buckets, the connection's (--conn-mbit) and one shared by all
  connections in that direction (--total-mbit); buckets reserve virtual send times, so
  sleeps never accumulate error; chunks are at most 64 KiB (1 ms at 500 Mbit/s);
- the queue per direction is bounded (--queue-mib), so a slow reader pushes back on the
  sender through TCP as a real bottleneck link does.

0 means unlimited / no delay. --stats FILE gets a JSON document (connections opened, peak
concurrent, bytes each way), rewritten every 0.25 s and at exit (SIGTERM, SIGINT).
"""
import argparse
import asyncio
import collections
import json
import os
import signal
import sys
import time

CHUNK = 64 << 10


class Bucket:
    """A token bucket as virtual time: reserve(n) returns when n bytes may be sent."""

    def __init__(self, mbit):
        self.rate = mbit * 1e6 / 8 if mbit > 0 else 0.0
        # Credit kept for a sender that fell behind (a late wake-up of this process): 10 ms of
        # traffic, at least 4 chunks, so scheduling jitter does not cost throughput.
        self.burst_s = max(0.010, 4 * CHUNK / self.rate) if self.rate else 0.0
        self.t = 0.0

    def reserve(self, n, now):
        if not self.rate:
            return now
        self.t = max(self.t, now - self.burst_s) + n / self.rate
        return self.t


class Stats:
    def __init__(self, path):
        self.path = path
        self.d = {"connections": 0, "open": 0, "peak_open": 0, "bytes_up": 0, "bytes_down": 0,
                  "started": time.time(), "args": {}}

    def write(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(dict(self.d, written=time.time()), f)
        os.replace(tmp, self.path)


async def pump(reader, writer, delay, first_extra, conn_bucket, total_bucket, queue_limit, stats, key):
    """Copies reader → writer with the delay and the buckets; returns at EOF or error."""
    loop = asyncio.get_running_loop()
    shaped = delay > 0 or first_extra > 0 or conn_bucket.rate or total_bucket.rate
    try:
        if not shaped:
            while True:
                data = await reader.read(256 << 10)
                if not data:
                    break
                stats.d[key] += len(data)
                writer.write(data)
                await writer.drain()
            return
        queue = collections.deque()
        queued = 0
        more = asyncio.Event()       # the queue got a chunk (or EOF)
        room = asyncio.Event()       # the queue fell below its limit
        room.set()
        done = False

        async def fill():
            nonlocal queued, done
            extra = first_extra
            try:
                while True:
                    await room.wait()
                    data = await reader.read(CHUNK)
                    if not data:
                        break
                    due = loop.time() + delay + extra
                    extra = 0
                    queue.append((due, data))
                    queued += len(data)
                    if queued >= queue_limit:
                        room.clear()
                    more.set()
            except (ConnectionError, OSError):
                pass
            finally:
                done = True
                more.set()

        filler = asyncio.ensure_future(fill())
        try:
            while True:
                if not queue:
                    if done:
                        break
                    more.clear()
                    await more.wait()
                    continue
                due, data = queue.popleft()
                queued -= len(data)
                if queued < queue_limit:
                    room.set()
                now = loop.time()
                at = max(due, conn_bucket.reserve(len(data), max(now, due)), total_bucket.reserve(len(data), max(now, due)))
                if at > now:
                    await asyncio.sleep(at - now)
                stats.d[key] += len(data)
                writer.write(data)
                await writer.drain()
        finally:
            filler.cancel()
    except (ConnectionError, OSError, asyncio.CancelledError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", required=True, help="HOST:PORT to accept on (loopback)")
    ap.add_argument("--upstream", required=True, help="HOST:PORT to forward to")
    ap.add_argument("--rtt-ms", type=float, default=0.0)
    ap.add_argument("--conn-mbit", type=float, default=0.0, help="bandwidth per connection and direction")
    ap.add_argument("--total-mbit", type=float, default=0.0, help="bandwidth of all connections, per direction")
    ap.add_argument("--queue-mib", type=float, default=8.0, help="bytes in flight per connection and direction")
    ap.add_argument("--no-handshake-rtt", action="store_true", help="do not delay a connection's first bytes by one more RTT")
    ap.add_argument("--stats", help="write counters as JSON to this file")
    a = ap.parse_args()
    lhost, lport = a.listen.rsplit(":", 1)
    uhost, uport = a.upstream.rsplit(":", 1)
    half = a.rtt_ms / 2000.0
    handshake = 0.0 if a.no_handshake_rtt else a.rtt_ms / 1000.0
    stats = Stats(a.stats)
    stats.d["args"] = vars(a)
    total_up, total_down = Bucket(a.total_mbit), Bucket(a.total_mbit)
    queue_limit = int(a.queue_mib * (1 << 20))

    async def handle(creader, cwriter):
        stats.d["connections"] += 1
        stats.d["open"] += 1
        stats.d["peak_open"] = max(stats.d["peak_open"], stats.d["open"])
        try:
            ureader, uwriter = await asyncio.open_connection(uhost, int(uport), limit=1 << 20)
        except OSError:
            stats.d["open"] -= 1
            cwriter.close()
            return
        for w in (cwriter, uwriter):
            sock = w.get_extra_info("socket")
            if sock is not None:
                import socket
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        up = pump(creader, uwriter, half, handshake, Bucket(a.conn_mbit), total_up, queue_limit, stats, "bytes_up")
        down = pump(ureader, cwriter, half, 0.0, Bucket(a.conn_mbit), total_down, queue_limit, stats, "bytes_down")
        try:
            await asyncio.gather(up, down)
        finally:
            stats.d["open"] -= 1
            for w in (cwriter, uwriter):
                try:
                    w.close()
                except OSError:
                    pass

    async def serve():
        server = await asyncio.start_server(handle, lhost, int(lport), limit=1 << 20, backlog=256)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"shape_proxy: {a.listen} -> {a.upstream}, rtt {a.rtt_ms:g} ms, {a.conn_mbit:g} Mbit/s per connection, "
              f"{a.total_mbit:g} Mbit/s total", file=sys.stderr, flush=True)

        async def tick():
            while True:
                stats.write()
                await asyncio.sleep(0.25)
        ticker = asyncio.ensure_future(tick())
        await stop.wait()
        ticker.cancel()
        server.close()
        stats.write()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
