#!/usr/bin/python3
"""HTTP webhook → Ferry → durable PostgreSQL outbox → dispatcher → Prosody → a logged-in client, on loopback.

Starts a private PostgreSQL 15 (scripts/testworld/postgres.sh, fsync on) and a private Prosody (as
bench/e2e_outbox.py does), runs `ferry db migrate`, adds an `alertmanager` webhook connector `hooks` with a
token and an inbound mapping of every alert to alice@localhost, and starts `ferry run` with its HTTP listener.
A receiver process logs alice in (bench/c2s_load_client.py), sends initial presence and notes the arrival time
of every alert message. Then Alertmanager v4 notifications, each with its own groupKey and fingerprint (Ferry
would answer a repeated one with "duplicate"), are POSTed to /hooks/hooks:

- flood (--rate 0): wrk with --connections keep-alive connections for --seconds, each request built by a Lua
  script with a unique sequence number and its send time (CLOCK_MONOTONIC, via LuaJIT's ffi). Without wrk
  (or with --generator python) a closed-loop asyncio client does the same.
- paced (--rate R): an asyncio client sends R requests/s for --seconds over a few keep-alive connections.

Latency is receive time minus the send time carried in the alert's summary (one host, one monotonic clock).
Throughput is messages delivered / (last arrival - first send). CPU per message comes from /proc: Ferry,
PostgreSQL summed over all its processes, Prosody, the load generator (wrk's rusage, or this process) and
the receiver. Every message Ferry committed (ferry_messages_in_total) must arrive exactly once; the exit
status is non-zero otherwise. Everything is stopped and removed at exit; every wait is bounded.

Usage: /usr/bin/python3 bench/e2e_webhook.py [--ferry build-bench/ferry] [--rate 0] [--seconds 5]
                                             [--connections N] [--threads N] [--generator auto|wrk|python]
                                             [--pg-stats N] [--pg-set NAME=VALUE] [--json FILE]
--pg-stats N preloads pg_stat_statements and reports the N costliest statements and the outbox tables' scans;
--pg-set runs ALTER SYSTEM SET NAME = VALUE on the private server before Ferry starts (both restart it).
See docs/performance.md, section 4.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from c2s_load_client import Client  # noqa: E402
from e2e_ping import (COMPONENT, HOST, Processes, SECRET, cpu_seconds_sched, cpu_seconds_stat,  # noqa: E402
                      free_port, lua_string, machine, own_cpu_seconds, percentile, tail, wait_for_port,
                      write_prosody_config)
from e2e_outbox import cpu_per_message, pg_cpu, run_checked, start_postgres, stop_postgres  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

USER, PASSWORD = "alice", "alicepass"
HOOK = "hooks"

# The summary of each alert is "bench <seq> <send ns>"; the message body shows it as "● bench <seq> <ns>".
BODY = ('{{"version":"4","groupKey":"g-{run}-{seq}","status":"firing","receiver":"ferry",'
        '"groupLabels":{{"alertname":"Bench"}},"commonLabels":{{"alertname":"Bench"}},"externalURL":"http://am",'
        '"alerts":[{{"status":"firing","labels":{{"alertname":"Bench","seq":"{seq}"}},'
        '"annotations":{{"summary":"{kind} {seq} {ns}"}},"startsAt":"2026-11-25T10:00:00Z",'
        '"endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"{seq}"}}]}}')
BENCH_RE = re.compile(rb"\xe2\x97\x8f bench (\d+) (\d+)")  # "● bench <seq> <ns>"
WARMUP_RE = re.compile(rb"\xe2\x97\x8f warmup (\d+)")
ERROR_RE = re.compile(rb"<message[^>]*type=['\"]error['\"]")
CONTENT_LENGTH_RE = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")
WRK_SEQ_STRIDE = 100_000_000  # wrk thread t numbers its requests t * stride + 0, 1, 2, ...


# --- the receiver: a separate process, so its CPU is measured apart from the load generator's ----------------

class Receiver(Client):
    """After login and bind it stops parsing XML: it scans each chunk for complete <message/> stanzas and
    picks the sequence number and send time out of the alert text, which keeps its CPU per message small."""

    def __init__(self, host: str) -> None:
        super().__init__(host)
        self.raw = False
        self.pending = b""
        self.seen: list[tuple[int, int, int]] = []  # (seq, send ns, receive ns)
        self.warmups = 0
        self.errors = 0

    def data_received(self, data: bytes) -> None:
        if not self.raw:
            super().data_received(data)
            return
        now = time.monotonic_ns()
        buffer = self.pending + data
        end = buffer.rfind(b"</message>")
        if end < 0:
            self.pending = buffer
            return
        end += len(b"</message>")
        complete, self.pending = buffer[:end], buffer[end:]
        self.seen.extend((int(m[1]), int(m[2]), now) for m in BENCH_RE.finditer(complete))
        self.warmups += len(WARMUP_RE.findall(complete))
        self.errors += len(ERROR_RE.findall(complete))


async def receiver_main(port: int, out_path: str) -> int:
    loop = asyncio.get_running_loop()
    _, client = await asyncio.wait_for(loop.create_connection(lambda: Receiver(HOST), "127.0.0.1", port), 10)
    await client.login(USER, PASSWORD)
    client.raw = True
    client.send("<presence/>")  # without it the server would not route alice's messages to this session
    print("ready", flush=True)
    stop = asyncio.Event()

    def on_stdin() -> None:
        line = sys.stdin.readline()
        if not line or line.strip() == "stop":
            stop.set()

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    last = None
    while not stop.is_set() and not client.closed.done():
        state = (len(client.seen), client.warmups, client.errors)
        if state != last:
            print("progress %d %d %d" % state, flush=True)
            last = state
        try:
            await asyncio.wait_for(stop.wait(), 0.1)
        except asyncio.TimeoutError:
            pass
    with open(out_path, "w") as f:
        f.write(f"{client.warmups} {client.errors}\n")
        f.writelines(f"{s} {t} {r}\n" for s, t, r in client.seen)
    await client.close()
    print("done", flush=True)
    return 0


class ReceiverProcess:
    """The receiver child, driven over its stdin and stdout. A plain Popen read through add_reader, not an
    asyncio subprocess, so that nothing of it outlives the event loop when a run is interrupted."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.received = 0
        self.warmups = 0
        self.errors = 0
        self.changed = 0.0  # monotonic time of the last progress
        self.finished = False  # it wrote what it received
        self.buffer = b""
        self.ready: asyncio.Future | None = None
        self.eof: asyncio.Future | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def start(self, c2s_port: int, out_path: str, env: dict[str, str], groups: list[int]) -> None:
        self.loop = asyncio.get_running_loop()
        self.ready, self.eof = self.loop.create_future(), self.loop.create_future()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--receiver", str(c2s_port), out_path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True)
        groups.append(self.proc.pid)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.loop.add_reader(self.proc.stdout.fileno(), self.on_readable)
        await asyncio.wait_for(asyncio.shield(self.ready), 20)
        self.changed = time.monotonic()

    def on_readable(self) -> None:
        try:
            data = os.read(self.proc.stdout.fileno(), 65536)
        except BlockingIOError:
            return
        if not data:
            self.loop.remove_reader(self.proc.stdout.fileno())
            if not self.ready.done():
                self.ready.set_exception(RuntimeError("the receiver exited before it logged in"))
            if not self.eof.done():
                self.eof.set_result(None)
            return
        *lines, self.buffer = (self.buffer + data).split(b"\n")
        for line in lines:
            words = line.split()
            if words == [b"ready"]:
                self.ready.set_result(None)
            elif words and words[0] == b"progress":
                self.received, self.warmups, self.errors = (int(w) for w in words[1:4])
                self.changed = time.monotonic()
            elif words == [b"done"]:
                self.finished = True

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def stop(self) -> None:
        self.proc.stdin.write(b"stop\n")
        self.proc.stdin.flush()
        await asyncio.wait_for(asyncio.shield(self.eof), 20)
        self.proc.wait(timeout=5)

    def close(self) -> None:
        if self.proc is not None:
            if self.loop is not None and not self.loop.is_closed():
                self.loop.remove_reader(self.proc.stdout.fileno())
            for pipe in (self.proc.stdin, self.proc.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass


# --- HTTP ---------------------------------------------------------------------------------------------------

class HttpConnection:
    """One keep-alive HTTP/1.1 connection, one request at a time."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = (f"POST /hooks/{HOOK} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}"
                     "\r\nContent-Type: application/json\r\nContent-Length: ").encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 10)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None or self.writer.is_closing():
            await self.connect()
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = CONTENT_LENGTH_RE.search(head)
        body = await self.reader.readexactly(int(length[1])) if length else b""
        if b"\r\nconnection: close" in head.lower():
            self.writer.close()
            self.writer = None
        return status, body

    async def post(self, body: str) -> tuple[int, bytes]:
        data = body.encode()
        return await self.exchange(self.head + str(len(data)).encode() + b"\r\n\r\n" + data)

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self.exchange(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode())

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def scrape(port: int) -> dict[str, float]:
    """Ferry's /metrics as {'name{labels}': value}."""
    connection = HttpConnection(port, "")
    try:
        status, body = await asyncio.wait_for(connection.get("/metrics"), 10)
    finally:
        connection.close()
    if status != 200:
        raise RuntimeError(f"GET /metrics answered {status}: {body[:200]!r}")
    values = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                values[name] = float(value)
            except ValueError:
                pass
    return values


def metric(values: dict[str, float], name: str, label: str | None = None) -> float:
    if label is None:
        return values.get(name, 0.0)
    return sum(v for k, v in values.items() if k.startswith(name + "{") and label in k)


class Tally:
    """What the load generator learnt from Ferry's answers."""

    def __init__(self) -> None:
        self.sent = 0
        self.accepted: set[int] = set()
        self.duplicate = 0
        self.statuses: collections.Counter = collections.Counter()
        self.failures = 0  # connection errors, timeouts
        self.http_latencies_us: list[float] = []
        self.late = 0  # paced: requests sent more than 5 ms after their slot (busy event loop, no idle connection)
        self.sent_seqs: set[int] = set()


async def python_load(port: int, token: str, run_id: str, rate: float, seconds: float, connections: int,
                      tally: Tally, loads: list[float]) -> float:
    """Paced (rate > 0: request i is due at i / rate) or closed-loop flood (rate 0); returns seconds spent."""
    pool = [HttpConnection(port, token) for _ in range(connections)]
    await asyncio.gather(*(c.connect() for c in pool))
    idle: asyncio.Queue[HttpConnection] = asyncio.Queue()
    for c in pool:
        idle.put_nowait(c)
    in_flight: set[asyncio.Task] = set()

    async def one(connection: HttpConnection, seq: int) -> None:
        sent_ns = time.monotonic_ns()
        try:
            status, body = await asyncio.wait_for(
                connection.post(BODY.format(run=run_id, seq=seq, kind="bench", ns=sent_ns)), 30)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            tally.failures += 1
            connection.close()
        else:
            tally.http_latencies_us.append((time.monotonic_ns() - sent_ns) / 1000.0)
            tally.statuses[status] += 1
            if status == 200 and b'"accepted"' in body:
                tally.accepted.add(seq)
            elif status == 200:
                tally.duplicate += 1
        idle.put_nowait(connection)

    started = time.monotonic()
    deadline = started + seconds
    total = int(rate * seconds) if rate > 0 else None
    next_load = started
    seq = 0
    while (seq < total) if total is not None else (time.monotonic() < deadline):
        now = time.monotonic()
        if now >= next_load:
            loads.append(os.getloadavg()[0])
            next_load = now + 1.0
        if total is not None:
            slot = started + seq / rate
            if slot > now:
                await asyncio.sleep(min(0.002, slot - now))
                continue
        connection = await idle.get()
        if total is not None and time.monotonic() - (started + seq / rate) > 0.005:
            tally.late += 1
        tally.sent += 1
        tally.sent_seqs.add(seq)
        task = asyncio.ensure_future(one(connection, seq))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        seq += 1
    if in_flight:
        await asyncio.wait(in_flight, timeout=60)
    elapsed = time.monotonic() - started
    for c in pool:
        c.close()
    return elapsed


WRK_LUA = r"""-- Written by Ferry's bench/e2e_webhook.py for one run; removed afterwards.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } ferry_timespec;
int clock_gettime(int clk_id, ferry_timespec *tp);
]]
local now = ffi.new("ferry_timespec")
local threads = {}
local head = [==[@HEAD@]==]
local mid1 = [==[@MID1@]==]
local mid2 = [==[@MID2@]==]
local mid3 = [==[@MID3@]==]
local mid4 = [==[@MID4@]==]
local tail = [==[@TAIL@]==]
wrk.method = "POST"
wrk.path = "/hooks/@HOOK@"
wrk.headers["Authorization"] = "Bearer @TOKEN@"
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  base = tid * @STRIDE@
  sent = 0
  accepted = 0
  duplicate = 0
  other = 0
end

function request()
  local seq = base + sent
  sent = sent + 1
  ffi.C.clock_gettime(1, now) -- CLOCK_MONOTONIC, as Python's time.monotonic_ns()
  local ns = string.format("%d%09d", tonumber(now.tv_sec), tonumber(now.tv_nsec))
  local body = head .. seq .. mid1 .. seq .. mid2 .. seq .. mid3 .. ns .. mid4 .. seq .. tail
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 200 and string.find(body, '"accepted"', 1, true) then
    accepted = accepted + 1
  elseif status == 200 then
    duplicate = duplicate + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local sent_by = {}
  local a, d, o = 0, 0, 0
  for i, t in ipairs(threads) do
    sent_by[i] = tostring(t:get("sent"))
    a = a + t:get("accepted")
    d = d + t:get("duplicate")
    o = o + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'FERRY_WRK {"sent_by_thread":[%s],"accepted":%d,"duplicate":%d,"other_status":%d,"responses":%d,' ..
    '"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    table.concat(sent_by, ","), a, d, o, summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50.0), latency:percentile(99.0), latency.max, latency.mean))
end
"""


def wrk_script(run_id: str, token: str) -> str:
    marker = "\x00"
    parts = BODY.format(run=run_id, seq=marker, kind="bench", ns=marker).split(marker)
    # groupKey seq, label seq, summary seq, summary ns, fingerprint seq
    assert len(parts) == 6, parts
    text = WRK_LUA
    for name, value in (("HEAD", parts[0]), ("MID1", parts[1]), ("MID2", parts[2]), ("MID3", " "),
                        ("MID4", parts[4]), ("TAIL", parts[5]), ("HOOK", HOOK), ("TOKEN", token),
                        ("STRIDE", str(WRK_SEQ_STRIDE))):
        text = text.replace(f"@{name}@", value)
    # The summary is "bench <seq> <ns>": parts[2] ends with "bench ", parts[3] is the space between.
    assert parts[3] == " ", parts
    return text


async def wrk_load(args, port: int, token: str, run_id: str, workdir: str, tally: Tally, loads: list[float],
                   groups: list[int]) -> tuple[float, dict, float]:
    """Runs wrk; returns (seconds, its report, its CPU seconds from wait4)."""
    script = os.path.join(workdir, "bench.lua")
    with open(script, "w") as f:
        f.write(wrk_script(run_id, token))
    out_path = os.path.join(workdir, "wrk.out")
    threads = min(args.threads, args.connections)
    argv = ["wrk", "-t", str(threads), "-c", str(args.connections), "-d", f"{args.seconds:g}s",
            "--timeout", "10s", "-s", script, f"http://127.0.0.1:{port}/hooks/{HOOK}"]
    with open(out_path, "wb") as out:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    groups.append(child.pid)
    started = time.monotonic()
    next_load = started
    usage = None
    status = 0
    while time.monotonic() - started < args.seconds + 30:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid == child.pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            groups.remove(child.pid)  # reaped: its id may be reused
            break
        if time.monotonic() >= next_load:
            loads.append(os.getloadavg()[0])
            next_load = time.monotonic() + 1.0
        await asyncio.sleep(0.02)
    else:
        raise RuntimeError(f"wrk did not finish within {args.seconds + 30:g} s")
    elapsed = time.monotonic() - started
    output = tail(out_path, 40)
    if child.returncode != 0:
        raise RuntimeError(f"wrk failed ({child.returncode}):\n{output}")
    report = None
    for line in output.splitlines():
        if line.startswith("FERRY_WRK "):
            report = json.loads(line[len("FERRY_WRK "):])
    if report is None:
        raise RuntimeError(f"wrk printed no report:\n{output}")
    for t, count in enumerate(report["sent_by_thread"]):
        tally.sent_seqs.update(range(t * WRK_SEQ_STRIDE, t * WRK_SEQ_STRIDE + count))
    tally.sent = sum(report["sent_by_thread"])
    tally.duplicate = report["duplicate"]
    report["summary_text"] = [line for line in output.splitlines() if not line.startswith("FERRY_WRK ")]
    return elapsed, report, usage.ru_utime + usage.ru_stime


# --- one run ------------------------------------------------------------------------------------------------

def busy_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def read_received(path: str) -> tuple[int, int, list[tuple[int, int, int]]]:
    with open(path) as f:
        warmups, errors = (int(w) for w in f.readline().split())
        seen = [tuple(int(w) for w in line.split()) for line in f]
    return warmups, errors, seen


PG_BIN = "/usr/lib/postgresql/15/bin"


def pg_superuser(pg_dir: str, sql: str) -> str:
    """Runs SQL as the postgres superuser over the private server's socket; returns tab-separated rows."""
    with open(os.path.join(pg_dir, "port")) as f:
        port = f.read().strip()
    argv = [os.path.join(PG_BIN, "psql"), "-X", "-q", "-A", "-t", "-F", "\t", "-h", os.path.join(pg_dir, "sock"),
            "-p", port, "-U", "postgres", "-d", "ferry", "-v", "ON_ERROR_STOP=1", "-c", sql]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--"] + argv
    return run_checked(argv, dict(os.environ), "psql", 60)


def configure_postgres(pg_dir: str, settings: list[str], statements: bool) -> str:
    """ALTER SYSTEM for each NAME=VALUE and, with `statements`, preloads pg_stat_statements; then restarts the
    server (before Ferry starts). Returns the new URL."""
    for setting in settings:
        name, _, value = setting.partition("=")
        if not re.fullmatch(r"[a-z_][a-z0-9_.]*", name) or not value:
            raise ValueError(f"--pg-set wants NAME=VALUE, not {setting!r}")
        pg_superuser(pg_dir, f"ALTER SYSTEM SET {name} = '{value.replace(chr(39), chr(39) * 2)}'")
    if statements:
        pg_superuser(pg_dir, "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    stop_postgres(pg_dir)
    url = start_postgres(pg_dir)
    if statements:
        pg_superuser(pg_dir, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        pg_superuser(pg_dir, "ALTER SYSTEM SET pg_stat_statements.track_planning = on")
        pg_superuser(pg_dir, "SELECT pg_reload_conf()")
    return url


def pg_table_stats(pg_dir: str) -> list[dict]:
    """Scans and tuples of the tables a webhook message touches, since the last pg_stat_reset()."""
    out = pg_superuser(pg_dir, """
        SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0), n_tup_ins, n_tup_upd, n_tup_hot_upd,
               n_tup_del, n_live_tup, n_dead_tup, autovacuum_count, pg_relation_size(relid)
        FROM pg_stat_user_tables WHERE relname IN ('outbox', 'inbound_seen', 'message_map')
        ORDER BY relname""")
    names = ("table", "seq_scan", "seq_tup_read", "idx_scan", "inserted", "updated", "hot_updated", "deleted",
             "live", "dead", "autovacuums", "bytes")
    rows = []
    for line in out.splitlines():
        values = line.split("\t")
        rows.append({k: (v if k == "table" else int(v)) for k, v in zip(names, values)})
    return rows


def pg_statement_stats(pg_dir: str, top: int) -> list[dict]:
    out = pg_superuser(pg_dir, f"""
        SELECT calls, round(total_exec_time::numeric, 1), rows, round(mean_exec_time::numeric, 3),
               round(total_plan_time::numeric, 1), plans, shared_blks_hit,
               left(regexp_replace(query, '\\s+', ' ', 'g'), 110)
        FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'
        ORDER BY total_exec_time + total_plan_time DESC LIMIT {int(top)}""")
    stats = []
    for line in out.splitlines():
        calls, total, rows, mean, plan, plans, hits, query = line.split("\t", 7)
        stats.append({"calls": int(calls), "total_exec_ms": float(total), "rows": int(rows),
                      "mean_exec_ms": float(mean), "total_plan_ms": float(plan), "plans": int(plans),
                      "shared_blks_hit": int(hits), "query": query})
    return stats


async def measure(args, c2s_port: int, http_port: int, token: str, pids: dict[str, int], pg_dir: str,
                  ferry: subprocess.Popen, ferry_log: str, workdir: str, groups: list[int]) -> dict:
    pg_data = os.path.join(pg_dir, "data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    received_path = os.path.join(workdir, "received.txt")
    receiver = ReceiverProcess()
    await receiver.start(c2s_port, received_path, env, groups)
    run_id = f"r{os.getpid()}x{int(time.time())}"
    probe = HttpConnection(http_port, token)
    try:
        # Warm-up: the whole path works (component stream up, mapping snapshot loaded), then the outbox is empty.
        accepted_warmups = 0
        for attempt in range(40):
            status, body = await asyncio.wait_for(
                probe.post(BODY.format(run=run_id + "w", seq=attempt, kind="warmup", ns=0)), 10)
            if status == 200 and b'"accepted"' in body:
                accepted_warmups += 1
            elif status != 503:
                raise RuntimeError(f"the webhook answered {status}: {body[:300]!r}\n{tail(ferry_log)}")
            deadline = time.monotonic() + 0.5
            while receiver.warmups < 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            if receiver.warmups >= 1:
                break
        else:
            raise RuntimeError(f"no warm-up alert reached alice within 20 s; Ferry "
                               f"{'exited' if ferry.poll() is not None else 'runs'}:\n{tail(ferry_log)}")
        deadline = time.monotonic() + 15
        while receiver.warmups < accepted_warmups and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # earlier attempts may be waiting for a retry
        probe.close()
        await asyncio.sleep(0.5)
        m_before = await scrape(http_port)

        if args.pg_stats:
            pg_superuser(pg_dir, "SELECT pg_stat_statements_reset(), pg_stat_reset()")
        tally = Tally()
        loads = [os.getloadavg()[0]]
        receiver_pid = receiver.proc.pid
        before = {who: (cpu_seconds_stat(pid), cpu_seconds_sched(pid)) for who, pid in pids.items()}
        before["receiver"] = (cpu_seconds_stat(receiver_pid), cpu_seconds_sched(receiver_pid))
        pg_before = pg_cpu(pg_data)
        own_before = own_cpu_seconds()
        busy_before = busy_jiffies()
        received_before = receiver.received
        wrk_report = None
        generator_cpu = None
        if args.generator == "wrk":
            send_s, wrk_report, generator_cpu = await wrk_load(args, http_port, token, run_id, workdir, tally,
                                                               loads, groups)
        else:
            send_s = await python_load(http_port, token, run_id, args.rate, args.seconds, args.connections,
                                       tally, loads)
        await asyncio.sleep(0.3)  # requests wrk abandoned at its deadline may still be committing
        m_sent = await scrape(http_port)
        committed = int(metric(m_sent, "ferry_messages_in_total", f'"{HOOK}"')
                        - metric(m_before, "ferry_messages_in_total", f'"{HOOK}"'))
        want = received_before + committed
        limit = time.monotonic() + 60 + committed / 500.0
        receiver.changed = max(receiver.changed, time.monotonic())  # a stall counts from the end of sending
        next_load = time.monotonic() + 1.0
        while receiver.received < want and time.monotonic() < limit:
            if time.monotonic() - receiver.changed > 15:
                break  # nothing new for 15 s
            if time.monotonic() >= next_load:
                loads.append(os.getloadavg()[0])
                next_load = time.monotonic() + 1.0
            await asyncio.sleep(0.02)
        loads.append(os.getloadavg()[0])
        await asyncio.sleep(0.3)  # let any late duplicate land
        after = {who: (cpu_seconds_stat(pid), cpu_seconds_sched(pid)) for who, pid in pids.items()}
        after["receiver"] = (cpu_seconds_stat(receiver_pid), cpu_seconds_sched(receiver_pid))
        pg_after = pg_cpu(pg_data)
        own_cpu = own_cpu_seconds() - own_before
        busy_after = busy_jiffies()
        m_after = await scrape(http_port)
        statement_stats = pg_statement_stats(pg_dir, args.pg_stats) if args.pg_stats else None
        table_stats = pg_table_stats(pg_dir) if args.pg_stats else None
        if ferry.poll() is not None:
            raise RuntimeError(f"Ferry exited during the run:\n{tail(ferry_log)}")
    finally:
        probe.close()
        if receiver.running():
            try:
                await receiver.stop()
            except (asyncio.TimeoutError, OSError, subprocess.TimeoutExpired, RuntimeError):
                pass
        receiver.close()
    if not receiver.running() and receiver.proc.pid in groups:
        groups.remove(receiver.proc.pid)
    if not receiver.finished:
        raise RuntimeError("the receiver did not write what it received")
    _, xmpp_errors, seen = read_received(received_path)

    # --- analysis
    first: dict[int, tuple[int, int]] = {}
    arrivals: collections.Counter = collections.Counter()
    for seq, sent_ns, got_ns in seen:
        arrivals[seq] += 1
        if seq not in first:
            first[seq] = (sent_ns, got_ns)
    duplicates = sum(c - 1 for c in arrivals.values() if c > 1)
    unexpected = len(first.keys() - tally.sent_seqs)
    delivered = len(first.keys() & tally.sent_seqs)
    # Python generator: it knows which requests were accepted. wrk: it knows how many; Ferry's counter says how
    # many were committed (wrk may abandon a request at its deadline after Ferry committed it).
    if args.generator == "python":
        accepted = len(tally.accepted)
        missing_accepted = len(tally.accepted - first.keys())
    else:
        accepted = wrk_report["accepted"]
        missing_accepted = max(0, accepted - delivered)
    missing_committed = max(0, committed - delivered)
    latencies = sorted((got - sent) / 1e6 for sent, got in first.values())
    sends = [sent for sent, _ in first.values()]
    gots = [got for _, got in first.values()]
    span_s = (max(gots) - min(sends)) / 1e9 if first else float("nan")
    n = max(committed, 1)
    mode = "flood" if args.rate <= 0 else f"paced {args.rate:g}/s"
    if args.generator == "wrk":
        http = wrk_report["latency_us"]
        http_p50, http_p99, http_max = http["p50"] / 1000, http["p99"] / 1000, http["max"] / 1000
        statuses = {"200": wrk_report["accepted"] + wrk_report["duplicate"], "other": wrk_report["other_status"]}
        request_errors = wrk_report["errors"]
        responses = wrk_report["responses"]
    else:
        hl = sorted(tally.http_latencies_us)
        http_p50, http_p99 = percentile(hl, 0.50) / 1000, percentile(hl, 0.99) / 1000
        http_max = hl[-1] / 1000 if hl else float("nan")
        statuses = {str(k): v for k, v in sorted(tally.statuses.items())}
        request_errors = {"connection_or_timeout": tally.failures}
        responses = sum(tally.statuses.values())
    result = {
        "mode": mode,
        "generator": args.generator,
        "connections": args.connections,
        "seconds": args.seconds,
        "requests_sent": tally.sent,
        "responses": responses,
        "http_statuses": statuses,
        "http_errors": request_errors,
        "accepted": accepted,
        "duplicate_answers": tally.duplicate,
        "committed": committed,
        "delivered_unique": delivered,
        "missing_accepted": missing_accepted,
        "missing_committed": missing_committed,
        "duplicates": duplicates,
        "unexpected": unexpected,
        "xmpp_error_messages": xmpp_errors,
        "late_sends": tally.late,
        "send_seconds": round(send_s, 3),
        "accept_rate_per_s": round(committed / send_s, 1) if send_s > 0 else None,
        "span_seconds": round(span_s, 3),
        "throughput_per_s": round(delivered / span_s, 1) if delivered and span_s > 0 else None,
        "delivery_rate_per_s": (round(delivered / ((max(gots) - min(gots)) / 1e9), 1)
                                if delivered > 1 and max(gots) > min(gots) else None),
        "latency_p50_ms": round(percentile(latencies, 0.50), 2),
        "latency_p99_ms": round(percentile(latencies, 0.99), 2),
        "latency_max_ms": round(latencies[-1], 2) if latencies else None,
        "http_latency_p50_ms": round(http_p50, 2),
        "http_latency_p99_ms": round(http_p99, 2),
        "http_latency_max_ms": round(http_max, 2),
        "ferry_metrics": {
            "messages_out": round(metric(m_after, "ferry_messages_out_total", "")
                                  - metric(m_before, "ferry_messages_out_total", "")),
            "delivery_retries": round(metric(m_after, "ferry_delivery_retries_total", "")
                                      - metric(m_before, "ferry_delivery_retries_total", "")),
            "dead_letters": round(metric(m_after, "ferry_dead_letters_total", "")
                                  - metric(m_before, "ferry_dead_letters_total", "")),
            "outbox_depth_after": metric(m_after, "ferry_outbox_depth"),
        },
        "load_average_1m": {"min": round(min(loads), 2), "max": round(max(loads), 2),
                            "mean": round(sum(loads) / len(loads), 2)},
    }
    result.update(cpu_per_message(list(pids) + ["receiver"], before, after, pg_before, pg_after, n))
    # The generator: wrk's own rusage, or this process (which also ran the bookkeeping) for the Python client.
    generator = generator_cpu if generator_cpu is not None else own_cpu
    result["generator_cpu_us_per_msg"] = round(generator / n * 1e6, 2)
    result["generator_cpu_seconds"] = round(generator, 3)
    result["driver_cpu_seconds"] = round(own_cpu, 3)
    ours = (result["ferry_cpu_seconds"] + result["postgres_cpu_seconds"] + result["prosody_cpu_seconds"]
            + result["receiver_cpu_seconds"] + generator + (own_cpu if generator_cpu is not None else 0.0))
    busy = (busy_after[0] - busy_before[0]) / os.sysconf("SC_CLK_TCK")
    total = (busy_after[1] - busy_before[1]) / os.sysconf("SC_CLK_TCK")
    result["window_seconds"] = round(total / (os.cpu_count() or 1), 3)
    result["machine_busy_share"] = round(busy / total, 3) if total > 0 else None
    result["others_cpu_seconds"] = round(max(0.0, busy - ours), 3)
    per_msg = (result["ferry_cpu_us_per_msg_schedstat"] + result["postgres_cpu_us_per_msg_schedstat"]
               + result["prosody_cpu_us_per_msg_schedstat"] + result["receiver_cpu_us_per_msg_schedstat"]
               + result["generator_cpu_us_per_msg"])
    result["total_cpu_us_per_msg"] = round(per_msg, 1)
    result["cpu_bound_msgs_per_s"] = round((os.cpu_count() or 1) * 1e6 / per_msg) if per_msg > 0 else None
    # How latency moves during the run (the outbox table grows between autovacuums): 5-second windows by send time.
    if first:
        start = min(sends)
        windows: dict[int, list[float]] = collections.defaultdict(list)
        for sent, got in first.values():
            windows[int((sent - start) / 5e9)].append((got - sent) / 1e6)
        result["latency_by_5s_window"] = [
            {"from_s": w * 5, "messages": len(v), "p50_ms": round(percentile(sorted(v), 0.5), 2),
             "p99_ms": round(percentile(sorted(v), 0.99), 2)} for w, v in sorted(windows.items())]
    if statement_stats is not None:
        result["pg_statements"] = statement_stats
        result["pg_tables"] = table_stats
    if wrk_report is not None:
        result["wrk"] = {k: v for k, v in wrk_report.items() if k != "summary_text"}
    return result


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--receiver":
        return asyncio.run(receiver_main(int(sys.argv[2]), sys.argv[3]))
    default_ferry = os.path.join(REPO, "build-bench", "ferry")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ferry", default=default_ferry, help=f"the Ferry binary (default {default_ferry})")
    parser.add_argument("--rate", type=float, default=0.0, help="requests/s; 0 = flood (default)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to send (default 5)")
    parser.add_argument("--connections", type=int, help="HTTP connections (default 64 flood, 16 paced)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="wrk threads (default nproc)")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                        help="flood load generator (default: wrk if installed); paced runs always use python")
    parser.add_argument("--pg-stats", type=int, default=0, metavar="N",
                        help="preload pg_stat_statements and report the N statements that took longest")
    parser.add_argument("--pg-set", action="append", default=[], metavar="NAME=VALUE",
                        help="a PostgreSQL setting for the run (ALTER SYSTEM, then a restart); repeatable")
    parser.add_argument("--json", metavar="FILE", help="also write the result as JSON to FILE")
    args = parser.parse_args()
    if args.connections is None:
        args.connections = 64 if args.rate <= 0 else 16
    if not (0 < args.seconds <= 60 and 0 <= args.rate <= 100_000 and 1 <= args.connections <= 1000
            and 1 <= args.threads <= 64):
        parser.error("--seconds must be in (0, 60], --rate in [0, 1e5], --connections in [1, 1000]")
    if args.rate > 0:
        args.generator = "python"
    elif args.generator == "auto":
        args.generator = "wrk" if shutil.which("wrk") else "python"
    if args.generator == "wrk" and shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install -y wrk), or pass --generator python")
    ferry_bin = os.path.abspath(args.ferry)
    if not os.access(ferry_bin, os.X_OK):
        parser.error(f"no Ferry binary at {ferry_bin} (build it, or pass --ferry)")
    if shutil.which("prosody") is None:
        parser.error("prosody is not installed")

    info = machine()
    workdir = tempfile.mkdtemp(prefix="ferry-e2e-webhook-")
    pg_dir = os.path.join(workdir, "pg")
    processes = Processes()
    groups: list[int] = []  # process groups of children not in `processes` (receiver, wrk) until reaped
    token = secrets.token_hex(16)
    ferry_log = ferry = None

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    try:
        url = start_postgres(pg_dir)
        if args.pg_stats or args.pg_set:
            url = configure_postgres(pg_dir, args.pg_set, bool(args.pg_stats))
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
        ferry_env = {**base_env, "FERRY_DATABASE_URL": url}
        run_checked([ferry_bin, "db", "migrate"], ferry_env, "ferry db migrate")
        run_checked([ferry_bin, "connector", "add", HOOK, "--kind", "alertmanager", "--setting", f"token={token}"],
                    ferry_env, "ferry connector add")
        # Every notification here is news to count, not a storm to coalesce: storm control off.
        run_checked([ferry_bin, "mapping", "add", "--xmpp", f"{USER}@{HOST}", "--connector", HOOK,
                     "--remote", "*", "--direction", "in", "--option", "alert_rate=0"], ferry_env,
                    "ferry mapping add")

        ports: set[int] = set()
        while len(ports) < 3:
            ports.add(free_port())
        c2s_port, component_port, http_port = sorted(ports)
        config = write_prosody_config(workdir, c2s_port, component_port)
        accounts = os.path.join(workdir, "data", HOST.replace(".", "%2e"), "accounts")
        with open(os.path.join(accounts, f"{USER}.dat"), "w") as f:
            f.write(f'return {{\n\t["password"] = {lua_string(PASSWORD)};\n}};\n')
        prosody_log = os.path.join(workdir, "prosody.out")
        prosody = processes.start(["prosody", "-F", "--config", config], prosody_log, base_env, workdir)
        wait_for_port(c2s_port, prosody, "Prosody", prosody_log, 20)
        wait_for_port(component_port, prosody, "Prosody", prosody_log, 20)

        ferry_log = os.path.join(workdir, "ferry.log")
        ferry = processes.start([ferry_bin, "run", "--component.domain", COMPONENT, "--component.host",
                                 "127.0.0.1", "--component.port", str(component_port), "--component.secret",
                                 SECRET, "--log.level", "warning"], ferry_log,
                                {**ferry_env, "FERRY_HTTP_PORT": str(http_port)}, workdir)
        wait_for_port(http_port, ferry, "Ferry", ferry_log, 20)
        pids = {"ferry": ferry.pid, "prosody": prosody.pid}
        print(f"pids: ferry={ferry.pid} prosody={prosody.pid}", file=sys.stderr, flush=True)
        budget = 150 + 2 * args.seconds + (args.rate * args.seconds / 500.0 if args.rate > 0 else 40 * args.seconds)
        result = asyncio.run(asyncio.wait_for(
            measure(args, c2s_port, http_port, token, pids, pg_dir, ferry, ferry_log,
                    workdir, groups), budget))
        ferry_warnings = tail(ferry_log, 5).strip()
    except KeyboardInterrupt as e:
        print(f"interrupted ({e}); cleaning up", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, asyncio.TimeoutError, EOFError, subprocess.TimeoutExpired,
            ValueError) as e:
        print(f"e2e_webhook: {type(e).__name__}: {e}", file=sys.stderr)
        if ferry_log is not None:
            exited = ferry is not None and ferry.poll() is not None
            state = f"exited with {ferry.returncode}" if exited else "was running"
            print(f"Ferry {state}; its log ends:\n{tail(ferry_log)}", file=sys.stderr)
        return 1
    finally:
        for pid in groups:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(pid, sig)
                except (ProcessLookupError, PermissionError):
                    break
                time.sleep(0.2)
        processes.stop_all()
        stop_postgres(pg_dir)
        shutil.rmtree(workdir, ignore_errors=True)

    r = result
    report = {"machine": info, "binary": ferry_bin, "pg_settings": args.pg_set, "result": r}
    print(f"machine: {info['nproc']} x {info['cpu_model']}, kernel {info['kernel']}, Prosody {info['prosody']}, "
          f"load 1m during run {r['load_average_1m']['min']}-{r['load_average_1m']['max']}, whole machine busy "
          f"{r['machine_busy_share']:.0%} ({r['others_cpu_seconds']} CPU s by other processes)")
    print(f"ferry: {ferry_bin}; {r['mode']} for {r['seconds']:g} s with {r['generator']}, {r['connections']} "
          f"connections; {r['requests_sent']} requests, {r['responses']} answered {r['http_statuses']}, "
          f"errors {r['http_errors']}" + (f", late {r['late_sends']}" if args.rate > 0 else "")
          + (f"; PostgreSQL settings {args.pg_set}" if args.pg_set else ""))
    print(f"accepted {r['accepted']}, committed {r['committed']} ({r['accept_rate_per_s']}/s); delivered "
          f"{r['delivered_unique']} unique; missing {r['missing_committed']} (of accepted: "
          f"{r['missing_accepted']}), duplicates {r['duplicates']}, unexpected {r['unexpected']}, "
          f"XMPP errors {r['xmpp_error_messages']}, Ferry retries {r['ferry_metrics']['delivery_retries']}")
    print(f"throughput {r['throughput_per_s']} msgs/s over {r['span_seconds']} s (delivery rate "
          f"{r['delivery_rate_per_s']}/s); POST-to-XMPP latency p50 {r['latency_p50_ms']} ms, p99 "
          f"{r['latency_p99_ms']} ms, max {r['latency_max_ms']} ms; HTTP answer p50 {r['http_latency_p50_ms']} "
          f"ms, p99 {r['http_latency_p99_ms']} ms")
    if len(r.get("latency_by_5s_window", [])) > 1:
        print("latency p50/p99 ms by 5 s window: " + ", ".join(
            f"{w['from_s']}s {w['p50_ms']:g}/{w['p99_ms']:g}" for w in r["latency_by_5s_window"]))
    print(f"CPU us/msg (stat; schedstat): ferry {r['ferry_cpu_us_per_msg']}; {r['ferry_cpu_us_per_msg_schedstat']}"
          f"  postgres({r['postgres_processes']} procs) {r['postgres_cpu_us_per_msg']}; "
          f"{r['postgres_cpu_us_per_msg_schedstat']}  prosody {r['prosody_cpu_us_per_msg']}; "
          f"{r['prosody_cpu_us_per_msg_schedstat']}  generator({r['generator']}) {r['generator_cpu_us_per_msg']}"
          f"  receiver {r['receiver_cpu_us_per_msg']}; {r['receiver_cpu_us_per_msg_schedstat']}")
    print(f"PostgreSQL by process (us/msg): {r['postgres_cpu_us_per_msg_by_role']}")
    print(f"total {r['total_cpu_us_per_msg']} us/msg; CPU-bound ceiling on {info['nproc']} idle cores: "
          f"{r['cpu_bound_msgs_per_s']} msgs/s")
    for st in r.get("pg_statements", []):
        print(f"  pg: {st['calls']:>7} calls {st['total_exec_ms']:>9.1f} ms (mean {st['mean_exec_ms']:.3f}), "
              f"{st['plans']} plans {st['total_plan_ms']:.1f} ms, {st['rows']:>7} rows  {st['query'][:70]}")
    for t in r.get("pg_tables", []):
        print(f"  pg table {t['table']}: {t['seq_scan']} seq scans reading {t['seq_tup_read']} tuples, "
              f"{t['idx_scan']} index scans; {t['inserted']} ins, {t['updated']} upd ({t['hot_updated']} HOT), "
              f"{t['deleted']} del; now {t['live']} live, {t['dead']} dead, {t['bytes'] // 1024} KiB; "
              f"{t['autovacuums']} autovacuums")
    if ferry_warnings:
        print(f"ferry log tail:\n{ferry_warnings}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    ok = (r["committed"] > 0 and r["missing_committed"] == 0 and r["missing_accepted"] == 0
          and r["duplicates"] == 0 and r["unexpected"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
