#!/usr/bin/python3
"""End-to-end round trips through a private Prosody to Ferry, on loopback.

Starts a throwaway Prosody 0.12 (own config, ports, data and log in a temporary directory) and the Ferry
binary connected to it as Component "ferry.localhost", logs in one c2s client (a minimal asyncio client with
SASL PLAIN: slixmpp costs more CPU per stanza than Ferry and Prosody together), keeps --inflight XEP-0199
pings to ferry.localhost in flight for --duration seconds, then does the same with XEP-0030 disco#info.

Reports round trips per second, p50/p99 latency, and the CPU time (utime+stime from /proc/PID/stat, cross-
checked with the nanosecond /proc/PID/task/*/schedstat) that Ferry, Prosody and the client spent per round
trip. Everything is stopped and removed at exit; every wait is bounded.

Usage: /usr/bin/python3 bench/e2e_ping.py [--ferry build-bench/ferry] [--duration 10] [--inflight 64]
       /usr/bin/python3 bench/e2e_ping.py --biboumi /usr/bin/biboumi   (the same load on biboumi, for reference)
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from c2s_load_client import Client, Load

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

COMPONENT = "ferry.localhost"
HOST = "localhost"
USER, PASSWORD = "bench", "benchpass"
SECRET = "e2e-bench-secret"
CLK_TCK = os.sysconf("SC_CLK_TCK")

PING = "<iq type='get' id='{id}' to='" + COMPONENT + "'><ping xmlns='urn:xmpp:ping'/></iq>"
DISCO = ("<iq type='get' id='{id}' to='" + COMPONENT + "'>"
         "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>")


# --- processes and clean-up -------------------------------------------------------------------------------

class Processes:
    """Children started in their own process groups; all of them are killed by stop_all()."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen] = []

    def start(self, argv: list[str], log_path: str, env: dict[str, str], cwd: str) -> subprocess.Popen:
        log = open(log_path, "wb")
        try:
            child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     env=env, cwd=cwd, start_new_session=True)
        finally:
            log.close()
        self.children.append(child)
        return child

    def stop_all(self) -> None:
        for child in reversed(self.children):
            if child.poll() is None:
                try:
                    os.killpg(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 5
        for child in reversed(self.children):
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:  # the group too: anything the child left behind
                os.killpg(child.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                child.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        self.children.clear()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, child: subprocess.Popen, what: str, log_path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"{what} exited with {child.returncode}:\n{tail(log_path)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s:\n{tail(log_path)}")


def tail(path: str, lines: int = 20) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


def lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_prosody_config(d: str, c2s_port: int, component_port: int) -> str:
    config = f"""-- Written by Ferry's bench/e2e_ping.py for one run; removed afterwards.
run_as_root = true
pidfile = {lua_string(os.path.join(d, "prosody.pid"))}
data_path = {lua_string(os.path.join(d, "data"))}
certificates = {lua_string(os.path.join(d, "certs"))}
log = {{ {{ levels = {{ min = "warn" }}, to = "file", filename = {lua_string(os.path.join(d, "prosody.log"))} }} }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s_port} }}
c2s_interfaces = {{ "127.0.0.1" }}
component_ports = {{ {component_port} }}
component_interfaces = {{ "127.0.0.1" }}
s2s_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
legacy_ssl_ports = {{ }}
modules_enabled = {{ "saslauth"; "posix" }}
modules_disabled = {{ "tls"; "s2s" }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
-- Prosody keeps Nagle on by default: every round trip would then wait ~40 ms.
network_settings = {{ nagle = false }}

VirtualHost "{HOST}"

Component "{COMPONENT}"
    component_secret = {lua_string(SECRET)}
"""
    path = os.path.join(d, "prosody.cfg.lua")
    with open(path, "w") as f:
        f.write(config)
    os.makedirs(os.path.join(d, "certs"), exist_ok=True)
    accounts = os.path.join(d, "data", HOST.replace(".", "%2e"), "accounts")
    os.makedirs(accounts, exist_ok=True)
    with open(os.path.join(accounts, f"{USER}.dat"), "w") as f:
        f.write(f'return {{\n\t["password"] = {lua_string(PASSWORD)};\n}};\n')
    return path


# --- CPU accounting ---------------------------------------------------------------------------------------

def cpu_seconds_stat(pid: int) -> float:
    """utime + stime of the whole process (all threads), from /proc/PID/stat; resolution 1/CLK_TCK."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of proc(5)


def cpu_seconds_sched(pid: int) -> float:
    """Time on CPU summed over the threads alive now, from /proc/PID/task/*/schedstat (nanoseconds)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(sorted_values: list[int], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


async def run_phase(client: Client, name: str, template: str, args, pids: dict[str, int]) -> dict:
    load = Load(template, args.inflight)
    client.load = load
    load.start(client)
    await asyncio.sleep(args.warmup)
    load.reset_counters()
    before = {who: (cpu_seconds_stat(pid), cpu_seconds_sched(pid)) for who, pid in pids.items()}
    client_before = own_cpu_seconds()
    started = time.monotonic()
    await asyncio.sleep(args.duration)
    load.sending = False
    if not load.sent_at:
        load.drained.set_result(None)
    await asyncio.wait_for(load.drained, 10)
    elapsed = time.monotonic() - started
    client_cpu = own_cpu_seconds() - client_before
    after = {who: (cpu_seconds_stat(pid), cpu_seconds_sched(pid)) for who, pid in pids.items()}
    client.load = None

    n = load.count
    latencies = sorted(load.latencies_ns)
    result = {
        "phase": name,
        "round_trips": n,
        "errors": load.errors,
        "seconds": round(elapsed, 3),
        "round_trips_per_s": round(n / elapsed, 1),
        "latency_p50_ms": round(percentile(latencies, 0.50) / 1e6, 3),
        "latency_p99_ms": round(percentile(latencies, 0.99) / 1e6, 3),
        "client_cpu_us_per_rt": round(client_cpu / n * 1e6, 2) if n else None,
        "client_cpu_share": round(client_cpu / elapsed, 2),
    }
    for who in pids:
        stat = after[who][0] - before[who][0]
        sched = after[who][1] - before[who][1]
        result[f"{who}_cpu_us_per_rt"] = round(stat / n * 1e6, 2) if n else None
        result[f"{who}_cpu_us_per_rt_schedstat"] = round(sched / n * 1e6, 2) if n else None
        result[f"{who}_cpu_share"] = round(sched / elapsed, 2)
    return result


async def wait_for_component(client: Client, timeout: float) -> None:
    """Pings the component until it answers: Prosody bounces pings while Ferry is not connected yet."""
    deadline = time.monotonic() + timeout
    attempt = 0
    while time.monotonic() < deadline:
        attempt += 1
        ident = f"ready{attempt}"
        try:
            if await client.iq(PING.format(id=ident), ident, 2) == "result":
                return
        except asyncio.TimeoutError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{COMPONENT} did not answer a ping within {timeout} s")


def write_biboumi_config(d: str, component_port: int) -> str:
    path = os.path.join(d, "biboumi.cfg")
    with open(path, "w") as f:
        f.write(f"hostname={COMPONENT}\npassword={SECRET}\nxmpp_server_ip=127.0.0.1\nport={component_port}\n"
                f"db_name={os.path.join(d, 'biboumi.sqlite')}\nlog_level=2\nidentd_port=0\n"
                f"policy_directory={d}\n")
    return path


async def measure(args, c2s_port: int, pids: dict[str, int], ferry: subprocess.Popen, ferry_log: str) -> list:
    loop = asyncio.get_running_loop()
    _, client = await asyncio.wait_for(loop.create_connection(lambda: Client(HOST), "127.0.0.1", c2s_port), 10)
    try:
        await client.login(USER, PASSWORD)
        try:
            await wait_for_component(client, 20)
        except RuntimeError as e:
            raise RuntimeError(f"{e}; the component {'exited' if ferry.poll() is not None else 'runs'}:\n"
                               f"{tail(ferry_log)}") from None
        results = []
        phases = [("ping", PING)] + ([] if args.skip_disco else [("disco#info", DISCO)])
        for name, template in phases:
            results.append(await run_phase(client, name, template, args, pids))
            if ferry.poll() is not None:
                raise RuntimeError(f"the component exited during the {name} phase:\n{tail(ferry_log)}")
        return results
    finally:
        await client.close()


def machine() -> dict:
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        prosody = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "prosody"], capture_output=True,
                                 text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        prosody = "unknown"
    return {"nproc": os.cpu_count(), "cpu_model": model, "kernel": platform.release(), "prosody": prosody,
            "load_average_1m_before": round(os.getloadavg()[0], 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ferry", default=os.environ.get("FERRY_BIN", os.path.join(REPO, "build", "ferry")),
                        help="the Ferry binary (default: $FERRY_BIN or build/ferry)")
    parser.add_argument("--biboumi", metavar="BIN", help="measure biboumi (e.g. /usr/bin/biboumi) instead of Ferry")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase (default 10)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each phase")
    parser.add_argument("--inflight", type=int, default=64, help="requests kept outstanding (default 64)")
    parser.add_argument("--skip-disco", action="store_true", help="only the ping phase")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = parser.parse_args()
    if not (0 < args.duration <= 300 and 0 <= args.warmup <= 30 and 1 <= args.inflight <= 10000):
        parser.error("--duration must be in (0, 300], --warmup in [0, 30], --inflight in [1, 10000]")
    component = "biboumi" if args.biboumi else "ferry"
    ferry_bin = os.path.abspath(args.biboumi or args.ferry)
    if not os.access(ferry_bin, os.X_OK):
        parser.error(f"no {component} binary at {ferry_bin} (build it, or pass --ferry)")
    if shutil.which("prosody") is None:
        parser.error("prosody is not installed (apt-get install prosody)")

    info = machine()
    workdir = tempfile.mkdtemp(prefix="ferry-e2e-")
    processes = Processes()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    try:
        c2s_port, component_port = free_port(), free_port()
        while component_port == c2s_port:
            component_port = free_port()
        config = write_prosody_config(workdir, c2s_port, component_port)
        prosody_log = os.path.join(workdir, "prosody.out")
        # Prosody gets a plain environment; Ferry one without FERRY_* (it rejects unknown FERRY_ variables).
        env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
        prosody = processes.start(["prosody", "-F", "--config", config], prosody_log, env, workdir)
        wait_for_port(c2s_port, prosody, "Prosody", prosody_log, 20)
        wait_for_port(component_port, prosody, "Prosody", prosody_log, 20)

        ferry_log = os.path.join(workdir, f"{component}.log")
        if args.biboumi:
            argv = [ferry_bin, write_biboumi_config(workdir, component_port)]
        else:
            argv = [ferry_bin, "run", "--component.domain", COMPONENT, "--component.host", "127.0.0.1",
                    "--component.port", str(component_port), "--component.secret", SECRET, "--log.level",
                    "warning"]
        ferry = processes.start(argv, ferry_log, env, workdir)

        pids = {"component": ferry.pid, "prosody": prosody.pid}
        # For attaching a profiler (perf record -p PID) while the load runs.
        print(f"pids: {component}={ferry.pid} prosody={prosody.pid}", file=sys.stderr, flush=True)
        budget = 60 + 2 * (args.duration + args.warmup + 12)
        results = asyncio.run(asyncio.wait_for(measure(args, c2s_port, pids, ferry, ferry_log), budget))
    except KeyboardInterrupt as e:
        print(f"interrupted ({e}); cleaning up", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, asyncio.TimeoutError, ConnectionError) as e:
        print(f"e2e_ping: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        processes.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)

    report = {"machine": info, "component": component, "binary": ferry_bin, "inflight": args.inflight, "duration_s": args.duration,
              "results": results}
    print(f"machine: {info['nproc']} x {info['cpu_model']}, kernel {info['kernel']}, Prosody {info['prosody']}, "
          f"load before {info['load_average_1m_before']}")
    print(f"{component}: {ferry_bin}; {args.inflight} in flight; {args.duration:g} s measured after "
          f"{args.warmup:g} s warm-up")
    header = (f"{'phase':<11} {'rt/s':>9} {'p50 ms':>8} {'p99 ms':>8} {component + ' us/rt':>12} {'prosody us/rt':>14}"
              f" {'client us/rt':>13} {'errors':>7}")
    print(header)
    for r in results:
        print(f"{r['phase']:<11} {r['round_trips_per_s']:>9.0f} {r['latency_p50_ms']:>8.2f} "
              f"{r['latency_p99_ms']:>8.2f} {r['component_cpu_us_per_rt']:>12.2f} {r['prosody_cpu_us_per_rt']:>14.1f}"
              f" {r['client_cpu_us_per_rt']:>13.1f} {r['errors']:>7}")
    print("(CPU per round trip from /proc/PID/stat utime+stime; schedstat cross-check: " +
          ", ".join(f"{r['phase']} {component} {r['component_cpu_us_per_rt_schedstat']} us, prosody "
                    f"{r['prosody_cpu_us_per_rt_schedstat']} us" for r in results) + ")")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return 0 if all(r["errors"] == 0 and r["round_trips"] > 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
