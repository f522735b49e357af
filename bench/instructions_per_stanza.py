#!/usr/bin/python3
"""Instructions per stanza for the ferry_bench stream benchmarks, under callgrind: a figure that does not move
with the load of a shared machine, for comparing a change before and after.

Counts only what runs inside XmlStreamParser::feed (parse, dispatch, reply, serialise), divides by the number
of stanzas delivered, and lists the costliest functions (inclusive) per stanza.

Usage: /usr/bin/python3 bench/instructions_per_stanza.py [--bench build-bench/ferry_bench] [--top 12] [FILTER...]
Default filters: every stream benchmark. Needs valgrind. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

DEFAULT_FILTERS = [
    "BM_Message_Parse$", "BM_Message_ParseSerialise$", "BM_Message_ParseDispatchSerialise$",
    "BM_Message_ParseDispatchErrorReply$", "BM_LargeMessage64KiB_ParseSerialise$",
    "BM_PingIq_ParseDispatchReply$", "BM_DiscoInfoIq_ParseDispatchReply$", "BM_PresenceUnknown_ParseDispatch$",
    "BM_ErrorMessage_ParseDispatch$",
]
# One call per stanza: the std::function that the benchmark gives XmlStreamParser as its stanza callback.
STANZA_CALLBACK = re.compile(r"_Function_handler<void \(ferry::xmpp::XmlNode\),")


def parse_callgrind(path: str) -> tuple[int, dict[str, int], dict[str, int]]:
    """(total Ir, calls per callee, inclusive Ir per called function) from a callgrind output file."""
    names: dict[str, str] = {}
    calls: dict[str, int] = {}
    inclusive_calls: dict[str, int] = {}
    fn = cfn = None
    pending_call = False
    total = 0
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?", line)
            if m:
                kind, ident, name = m.groups()
                if name:
                    names[ident] = name.strip()
                if kind == "fn":
                    fn = names[ident]
                else:
                    cfn = names[ident]
                continue
            m = re.match(r"calls=(\d+)", line)
            if m:
                calls[cfn] = calls.get(cfn, 0) + int(m.group(1))
                pending_call = True
                continue
            m = re.match(r"^(?:[+\-]?\d+|\*)\s+(\d+)", line)
            if m and fn is not None:
                cost = int(m.group(1))
                if pending_call:  # the cost line after calls= is the inclusive cost of that call
                    inclusive_calls[cfn] = inclusive_calls.get(cfn, 0) + cost
                    pending_call = False
                else:
                    total += cost
    # A called function's inclusive cost is what its callers' call lines carry (its own cost included).
    return total, calls, inclusive_calls


def short(name: str, width: int = 100) -> str:
    name = re.sub(r"std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >", "std::string",
                  name)
    name = re.sub(r"std::basic_string_view<char, std::char_traits<char> >", "std::string_view", name)
    name = name.replace("[abi:cxx11]", "")
    return name if len(name) <= width else name[: width - 3] + "..."


def measure(bench: str, flt: str, top: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ferry-callgrind-") as d:
        out = os.path.join(d, "callgrind.out")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        "--toggle-collect=ferry::xmpp::XmlStreamParser::feed*", bench,
                        f"--benchmark_filter={flt}", "--benchmark_min_time=0.01"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=600)
        total, calls, inclusive = parse_callgrind(out)
    stanzas = sum(n for name, n in calls.items() if name and STANZA_CALLBACK.search(name))
    if not stanzas:
        print(f"{flt}: no stanza reached the callback (is the filter a stream benchmark?)")
        return
    callbacks = sum(cost for name, cost in inclusive.items()
                    if re.match(r"ferry::xmpp::XmlStreamParser::on_(start|end|text|forbidden)\(", name or ""))
    print(f"{flt}  {total / stanzas:,.0f} instructions per stanza ({stanzas} stanzas); "
          f"{(total - callbacks) / stanzas:,.0f} in expat itself; "
          f"{calls.get('malloc', 0) / stanzas:.1f} malloc calls per stanza")
    interesting = [(cost, name) for name, cost in inclusive.items()
                   if name and (name.startswith("ferry::") or name in ("malloc", "free"))
                   and "XmlStreamParser::feed" not in name]
    for cost, name in sorted(interesting, reverse=True)[:top]:
        print(f"    {cost / stanzas:>9,.0f}  {short(name)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", default=os.path.join(REPO, "build-bench", "ferry_bench"))
    parser.add_argument("--top", type=int, default=12, help="functions listed per benchmark (inclusive cost)")
    parser.add_argument("filters", nargs="*", default=DEFAULT_FILTERS)
    args = parser.parse_args()
    for flt in args.filters:
        measure(args.bench, flt, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
