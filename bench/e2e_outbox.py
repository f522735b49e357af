#!/usr/bin/python3
"""XMPP → mapping → durable PostgreSQL outbox → log connector, end to end, on loopback.

Starts a private PostgreSQL 15 (scripts/testworld/postgres.sh) and a private Prosody (as bench/e2e_ping.py
does), runs `ferry db migrate`, adds a `log` connector and alice's outbound mapping to `ops`, starts Ferry,
logs alice in with the raw-asyncio load client (bench/c2s_load_client.py) and sends --messages messages to
`ops%benchlog@ferry.localhost`, as fast as the socket takes them (--rate 0) or paced at --rate messages/s.

From the JSON lines the log connector writes it computes enqueue-to-delivery latency (`delivered_at` minus
`message.timestamp`, both UTC with millisecond resolution), throughput (messages / (last delivered_at - first
timestamp)), and from /proc the CPU that Ferry, all PostgreSQL processes and Prosody spent per message. It
checks that every message text arrived exactly once. Everything is stopped and removed at exit; every wait
is bounded.

Usage: /usr/bin/python3 bench/e2e_outbox.py [--ferry build-bench/ferry] [--messages 20000] [--rate 0]
                                            [--json FILE]
See docs/performance.md, section 3.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from c2s_load_client import Client  # noqa: E402
from e2e_ping import (COMPONENT, HOST, SECRET, Processes, cpu_seconds_sched, cpu_seconds_stat,  # noqa: E402
                      free_port, lua_string, machine, own_cpu_seconds, percentile, tail, wait_for_component,
                      wait_for_port, write_prosody_config)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_SCRIPT = os.path.join(REPO, "scripts", "testworld", "postgres.sh")
USER, PASSWORD = "alice", "alicepass"
CONNECTOR = "benchlog"
TARGET = "{remote}%" + CONNECTOR + "@" + COMPONENT
MESSAGE = "<message to='" + TARGET + "' type='chat' id='{id}'><body>{text}</body></message>"


def remote(i: int, targets: int) -> str:
    """The remote address of message i: `ops`, or with several targets `ops0` … round robin."""
    return "ops" if targets <= 1 else f"ops{i % targets}"


class SendingClient(Client):
    """The load client, also counting message errors bounced back (service-unavailable and the like)."""

    def __init__(self, host: str) -> None:
        super().__init__(host)
        self.message_errors = 0
        self.last_error = ""

    def on_end(self, name: str) -> None:
        if self.depth == 2 and self.current is not None:
            cname, attrs = self.current
            if cname == "message" and attrs.get("type") == "error":
                self.message_errors += 1
                self.last_error = attrs.get("id", "")
        super().on_end(name)


# --- processes -----------------------------------------------------------------------------------------------

def pg_pids(data_dir: str) -> list[int]:
    """The postmaster and all its children (backends, checkpointer, WAL writer, ...) alive now."""
    try:
        with open(os.path.join(data_dir, "postmaster.pid")) as f:
            master = int(f.readline())
    except (OSError, ValueError):
        return []
    pids = [master]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == master:
            pids.append(int(entry))
    return pids


def pg_cpu(data_dir: str) -> tuple[dict[int, float], dict[int, float]]:
    stat, sched = {}, {}
    for pid in pg_pids(data_dir):
        try:
            stat[pid] = cpu_seconds_stat(pid)
            sched[pid] = cpu_seconds_sched(pid)
        except (OSError, ValueError):
            pass
    return stat, sched


def pg_role(pid: int) -> str:
    """'walwriter', 'checkpointer', 'backend ferry' ... from the process title."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            title = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "gone"
    if not title.startswith("postgres:"):
        return "postmaster"
    words = title[len("postgres:"):].split()
    if len(words) >= 2 and words[0] == "ferry":
        return "backend ferry"
    return " ".join(words[:2]) if words and words[0] in ("logical", "autovacuum") else (words[0] if words else "?")


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """Summed over processes; one that started during the run counts from 0, one that exited is lost."""
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def cpu_per_message(who: list[str], before: dict, after: dict, pg_before: tuple, pg_after: tuple,
                    n: int) -> dict:
    """CPU per message of each process named in `who` ((stat, schedstat) seconds before and after) and of
    PostgreSQL (pg_cpu() before and after, also split by process title), as result fields."""
    result: dict = {}
    for name in who:
        stat = after[name][0] - before[name][0]
        sched = after[name][1] - before[name][1]
        result[f"{name}_cpu_us_per_msg"] = round(stat / n * 1e6, 2)
        result[f"{name}_cpu_us_per_msg_schedstat"] = round(sched / n * 1e6, 2)
        result[f"{name}_cpu_seconds"] = round(sched, 3)
    pg_stat, pg_sched = cpu_delta(pg_before[0], pg_after[0]), cpu_delta(pg_before[1], pg_after[1])
    result["postgres_cpu_us_per_msg"] = round(pg_stat / n * 1e6, 2)
    result["postgres_cpu_us_per_msg_schedstat"] = round(pg_sched / n * 1e6, 2)
    result["postgres_cpu_seconds"] = round(pg_sched, 3)
    result["postgres_processes"] = len(pg_after[0])
    by_role: dict[str, float] = collections.defaultdict(float)
    for pid, v in pg_after[1].items():
        by_role[pg_role(pid)] += v - pg_before[1].get(pid, 0.0)
    result["postgres_cpu_us_per_msg_by_role"] = {k: round(v / n * 1e6, 2) for k, v in sorted(by_role.items())}
    return result


def run_checked(argv: list[str], env: dict[str, str], what: str, timeout: float = 90) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def start_postgres(pg_dir: str) -> str:
    out = run_checked(["bash", PG_SCRIPT, "start", pg_dir], dict(os.environ), "postgres.sh start", 120)
    for line in out.splitlines():
        if line.startswith("FERRY_TEST_PG_URL="):
            return line.split("=", 1)[1]
    raise RuntimeError(f"postgres.sh printed no URL:\n{out}")


def stop_postgres(pg_dir: str) -> None:
    try:
        subprocess.run(["bash", PG_SCRIPT, "stop", pg_dir], capture_output=True, timeout=90)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"e2e_outbox: stopping PostgreSQL: {e}", file=sys.stderr)


# --- the log file --------------------------------------------------------------------------------------------

def parse_ts(text: str) -> float:
    """'2026-11-25T21:47:04.123Z' -> epoch milliseconds."""
    dt = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return dt.timestamp() * 1000.0


def count_lines(path: str) -> int:
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


async def wait_lines(path: str, want: int, stall_s: float, limit_s: float) -> int:
    """Until `want` lines, or no new line for stall_s, or limit_s overall."""
    deadline = time.monotonic() + limit_s
    last, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = count_lines(path)
        if n >= want:
            return n
        if n != last:
            last, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > stall_s:
            return n
        await asyncio.sleep(0.05)
    return count_lines(path)


# --- one run -------------------------------------------------------------------------------------------------

async def send_all(client: SendingClient, run_id: str, n: int, rate: float, loads: list[float],
                   targets: int = 1) -> float:
    """Sends n messages (texts `{run_id}-{i}`); returns seconds spent sending. Keeps the socket buffer short."""
    transport = client.transport
    started = time.monotonic()
    sent = 0
    next_load = started
    batch = 64
    while sent < n:
        now = time.monotonic()
        if now >= next_load:
            loads.append(os.getloadavg()[0])
            next_load = now + 1.0
        if rate > 0:
            due = min(n, int((now - started) * rate) + 1)
            if due <= sent:
                await asyncio.sleep(min(0.002, (sent + 1) / rate - (now - started)))
                continue
            upto = due
        else:
            if transport.get_write_buffer_size() > 256 * 1024:
                await asyncio.sleep(0.001)
                continue
            upto = min(n, sent + batch)
        transport.write("".join(MESSAGE.format(remote=remote(i, targets), id=f"m{i}", text=f"{run_id}-{i}")
                                for i in range(sent, upto)).encode())
        sent = upto
        if rate <= 0:
            await asyncio.sleep(0)  # let the loop flush and read
    while transport.get_write_buffer_size() > 0 and time.monotonic() - started < 600:
        await asyncio.sleep(0.001)
    return time.monotonic() - started


async def measure(args, c2s_port: int, out_path: str, pids: dict[str, int], pg_data: str,
                  ferry: subprocess.Popen, ferry_log: str) -> dict:
    loop = asyncio.get_running_loop()
    _, client = await asyncio.wait_for(
        loop.create_connection(lambda: SendingClient(HOST), "127.0.0.1", c2s_port), 10)
    try:
        await client.login(USER, PASSWORD)
        try:
            await wait_for_component(client, 20)
        except RuntimeError as e:
            raise RuntimeError(f"{e}; Ferry {'exited' if ferry.poll() is not None else 'runs'}:\n"
                               f"{tail(ferry_log)}") from None
        # Warm-up: the whole path works (the mapping snapshot may load a moment after the stream is up).
        for attempt in range(40):
            client.send(MESSAGE.format(remote=remote(0, 1 if args.targets <= 1 else 2), id=f"w{attempt}",
                                       text=f"warmup-{attempt}"))
            if await wait_lines(out_path, 1, 0.5, 0.5) >= 1:
                break
        else:
            raise RuntimeError(f"no warm-up message delivered within 20 s (errors bounced: "
                               f"{client.message_errors}):\n{tail(ferry_log)}")
        await asyncio.sleep(0.5)
        baseline_lines = count_lines(out_path)
        client.message_errors = 0

        run_id = f"r{os.getpid()}x{int(time.time())}"
        loads = [os.getloadavg()[0]]
        before = {who: (cpu_seconds_stat(pid), cpu_seconds_sched(pid)) for who, pid in pids.items()}
        pg_before = pg_cpu(pg_data)
        client_before = own_cpu_seconds()
        t0 = time.monotonic()
        send_s = await send_all(client, run_id, args.messages, args.rate, loads, args.targets)
        limit = 60 + args.messages / 500.0
        while True:
            got = await wait_lines(out_path, baseline_lines + args.messages, 1.0, 1.0)
            loads.append(os.getloadavg()[0])
            if got >= baseline_lines + args.messages or time.monotonic() - t0 > limit:
                break
            if got == count_lines(out_path) and got < baseline_lines + args.messages:
                # Stalled for 1 s: give it up to 15 s more without progress.
                if await wait_lines(out_path, baseline_lines + args.messages, 15.0, 15.0) == got:
                    break
        wall_s = time.monotonic() - t0
        await asyncio.sleep(0.3)  # let any late duplicate land
        after = {who: (cpu_seconds_stat(pid), cpu_seconds_sched(pid)) for who, pid in pids.items()}
        pg_after = pg_cpu(pg_data)
        client_cpu = own_cpu_seconds() - client_before
        loads.append(os.getloadavg()[0])
        bounced = client.message_errors
    finally:
        await client.close()

    # --- analysis
    texts = collections.Counter()
    latencies, first_ts, last_delivered, attempts_over_1 = [], None, None, 0
    last_ts = first_delivered = None
    with open(out_path) as f:
        for line in f:
            rec = json.loads(line)
            text = rec["message"]["text"]
            if not text.startswith(run_id + "-"):
                continue
            texts[text] += 1
            ts, dl = parse_ts(rec["message"]["timestamp"]), parse_ts(rec["delivered_at"])
            latencies.append(dl - ts)
            first_ts = ts if first_ts is None else min(first_ts, ts)
            last_delivered = dl if last_delivered is None else max(last_delivered, dl)
            last_ts = ts if last_ts is None else max(last_ts, ts)
            first_delivered = dl if first_delivered is None else min(first_delivered, dl)
            if rec.get("attempt", 1) > 1:
                attempts_over_1 += 1
    expected = {f"{run_id}-{i}" for i in range(args.messages)}
    missing = len(expected - texts.keys())
    duplicates = sum(c - 1 for t, c in texts.items() if c > 1)
    unexpected = len(texts.keys() - expected)
    latencies.sort()
    delivered = len(texts)
    n = args.messages
    span_s = (last_delivered - first_ts) / 1000.0 if delivered else float("nan")
    result = {
        "mode": ("flood" if args.rate <= 0 else f"paced {args.rate:g}/s") + f", {args.sink} sink, "
                f"{args.targets} target(s)",
        "messages": n,
        "delivered_unique": delivered,
        "missing": missing,
        "duplicates": duplicates,
        "unexpected": unexpected,
        "bounced_errors": bounced,
        "redelivery_attempts_gt_1": attempts_over_1,
        "send_seconds": round(send_s, 3),
        "offered_rate_per_s": round(n / send_s, 1) if send_s > 0 else None,
        "wall_seconds": round(wall_s, 3),
        "span_seconds": round(span_s, 3),
        "throughput_per_s": round(delivered / span_s, 1) if delivered and span_s > 0 else None,
        # Ferry's side alone: how fast it accepted (committed) and how fast it delivered.
        "accept_rate_per_s": (round(delivered / ((last_ts - first_ts) / 1000.0), 1)
                              if delivered > 1 and last_ts > first_ts else None),
        "delivery_rate_per_s": (round(delivered / ((last_delivered - first_delivered) / 1000.0), 1)
                                if delivered > 1 and last_delivered > first_delivered else None),
        "latency_p50_ms": percentile(latencies, 0.50),
        "latency_p99_ms": percentile(latencies, 0.99),
        "latency_max_ms": latencies[-1] if latencies else None,
        "load_average_1m": {"min": round(min(loads), 2), "max": round(max(loads), 2),
                            "mean": round(sum(loads) / len(loads), 2)},
    }
    result.update(cpu_per_message(list(pids), before, after, pg_before, pg_after, n))
    result["client_cpu_us_per_msg"] = round(client_cpu / n * 1e6, 2)
    # If this machine ran nothing else: its cores divided by the CPU all four parties spend per message.
    total = (result["ferry_cpu_us_per_msg_schedstat"] + result["postgres_cpu_us_per_msg_schedstat"]
             + result["prosody_cpu_us_per_msg_schedstat"] + result["client_cpu_us_per_msg"]
             + result.get("sink_cpu_us_per_msg_schedstat", 0))
    result["cpu_bound_msgs_per_s"] = round((os.cpu_count() or 1) * 1e6 / total) if total > 0 else None
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ferry", default=os.path.join(REPO, "build", "ferry"), help="the Ferry binary")
    parser.add_argument("--messages", type=int, default=20000, help="messages to send (default 20000)")
    parser.add_argument("--rate", type=float, default=0.0, help="messages/s; 0 = flood (default)")
    parser.add_argument("--json", metavar="FILE", help="also write the result as JSON to FILE")
    parser.add_argument("--targets", type=int, default=1,
                        help="remote addresses (mappings, so conversations delivered in parallel), round robin")
    parser.add_argument("--sink", choices=["log", "http"], default="log",
                        help="log: the log connector writes a file; http: an http-json connector POSTs to "
                             "bench/http_sink.py on loopback (XMPP → webhook)")
    args = parser.parse_args()
    if not (1 <= args.messages <= 1_000_000 and 0 <= args.rate <= 1_000_000):
        parser.error("--messages must be in [1, 1e6], --rate in [0, 1e6]")
    ferry_bin = os.path.abspath(args.ferry)
    if not os.access(ferry_bin, os.X_OK):
        parser.error(f"no Ferry binary at {ferry_bin} (build it, or pass --ferry)")
    if shutil.which("prosody") is None:
        parser.error("prosody is not installed")

    info = machine()
    workdir = tempfile.mkdtemp(prefix="ferry-e2e-outbox-")
    pg_dir = os.path.join(workdir, "pg")
    processes = Processes()
    pg_started = False

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    try:
        pg_started = True  # stop is a no-op if it never came up
        url = start_postgres(pg_dir)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
        ferry_env = {**base_env, "FERRY_DATABASE_URL": url}
        out_path = os.path.join(workdir, "ops.jsonl")
        run_checked([ferry_bin, "db", "migrate"], ferry_env, "ferry db migrate")
        sink = None
        if args.sink == "http":
            sink_port = free_port()
            sink = processes.start([sys.executable, os.path.join(REPO, "bench", "http_sink.py"), str(sink_port),
                                    out_path], os.path.join(workdir, "sink.out"), base_env, workdir)
            wait_for_port(sink_port, sink, "HTTP sink", os.path.join(workdir, "sink.out"), 10)
            run_checked([ferry_bin, "connector", "add", CONNECTOR, "--kind", "http-json", "--setting",
                         f"url=http://127.0.0.1:{sink_port}/hook", "--setting", "allow_private=yes"],
                        ferry_env, "ferry connector add")
        else:
            run_checked([ferry_bin, "connector", "add", CONNECTOR, "--kind", "log", "--setting",
                         f"path={out_path}"], ferry_env, "ferry connector add")
        for t in range(args.targets):
            run_checked([ferry_bin, "mapping", "add", "--xmpp", f"{USER}@{HOST}", "--connector", CONNECTOR,
                         "--remote", remote(t, args.targets), "--direction", "out"], ferry_env, "ferry mapping add")

        c2s_port, component_port = free_port(), free_port()
        while component_port == c2s_port:
            component_port = free_port()
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
                                 SECRET, "--log.level", "warning"], ferry_log, ferry_env, workdir)
        pids = {"ferry": ferry.pid, "prosody": prosody.pid}
        if sink is not None:
            pids["sink"] = sink.pid
        print(f"pids: ferry={ferry.pid} prosody={prosody.pid}", file=sys.stderr, flush=True)
        budget = 120 + args.messages / 200.0 + (args.messages / args.rate if args.rate > 0 else 0)
        result = asyncio.run(asyncio.wait_for(
            measure(args, c2s_port, out_path, pids, os.path.join(pg_dir, "data"), ferry, ferry_log), budget))
        if ferry.poll() is not None:
            raise RuntimeError(f"Ferry exited during the run:\n{tail(ferry_log)}")
        ferry_warnings = tail(ferry_log, 5).strip()
    except KeyboardInterrupt as e:
        print(f"interrupted ({e}); cleaning up", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, asyncio.TimeoutError, ConnectionError, subprocess.TimeoutExpired) as e:
        print(f"e2e_outbox: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        processes.stop_all()
        if pg_started:
            stop_postgres(pg_dir)
        shutil.rmtree(workdir, ignore_errors=True)

    report = {"machine": info, "binary": ferry_bin, "result": result}
    r = result
    print(f"machine: {info['nproc']} x {info['cpu_model']}, kernel {info['kernel']}, Prosody {info['prosody']}, "
          f"load 1m during run {r['load_average_1m']['min']}-{r['load_average_1m']['max']}")
    print(f"ferry: {ferry_bin}; {r['mode']}; {r['messages']} messages, offered at {r['offered_rate_per_s']}/s")
    print(f"delivered {r['delivered_unique']} unique, missing {r['missing']}, duplicates {r['duplicates']}, "
          f"bounced {r['bounced_errors']}, attempt>1 {r['redelivery_attempts_gt_1']}")
    print(f"throughput {r['throughput_per_s']}/s over {r['span_seconds']} s; enqueue-to-delivery p50 "
          f"{r['latency_p50_ms']} ms, p99 {r['latency_p99_ms']} ms, max {r['latency_max_ms']} ms")
    print(f"accepted (message.timestamp) at {r['accept_rate_per_s']}/s, delivered (delivered_at) at "
          f"{r['delivery_rate_per_s']}/s")
    print(f"CPU us/msg (stat; schedstat): ferry {r['ferry_cpu_us_per_msg']}; {r['ferry_cpu_us_per_msg_schedstat']}"
          f"  postgres({r['postgres_processes']} procs) {r['postgres_cpu_us_per_msg']}; "
          f"{r['postgres_cpu_us_per_msg_schedstat']}  prosody {r['prosody_cpu_us_per_msg']}; "
          f"{r['prosody_cpu_us_per_msg_schedstat']}  client {r['client_cpu_us_per_msg']}"
          + (f"  sink {r['sink_cpu_us_per_msg_schedstat']}" if "sink_cpu_us_per_msg_schedstat" in r else ""))
    print(f"PostgreSQL by process (us/msg): {r['postgres_cpu_us_per_msg_by_role']}")
    print(f"CPU-bound ceiling on {info['nproc']} idle cores: {r['cpu_bound_msgs_per_s']} msgs/s")
    if ferry_warnings:
        print(f"ferry log tail:\n{ferry_warnings}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return 0 if r["missing"] == 0 and r["duplicates"] == 0 and r["unexpected"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
