"""Benchmark: parse + full analysis of a generated 10,000-rule iptables ruleset (target < 2 s).

Baseline measured in the same run: a single naive linear first-match pass over the same rules for
10,000 random packets (what a rule-by-rule evaluator costs). Prints both and their ratio.
Run: .venv/bin/python bench/firewall_analysis.py [--rules 10000] [--seed 6]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests/unit/firewall"))

from fw_brute_force import evaluate  # noqa: E402

from harness.registry import default_registry  # noqa: E402
from harness.suites.firewall import build_context  # noqa: E402
from harness.suites.firewall.parse import load_ruleset  # noqa: E402

BASELINE = Path(__file__).resolve().parents[1] / "specs/firewall/baseline.yaml"
SERVICE_PORTS = [443, 8443, 5432, 6379, 9200, 25, 53, 123]


def generate(n_rules: int, rng: random.Random) -> str:
    """A realistic mix: a stateful head, per-client allow lists split into user chains by /16,
    blocklists (drops), multiport rules, logging, egress allow lists and a catch-all drop."""
    lines = ["*filter", ":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT DROP [0:0]", ":LOG_DROP - [0:0]"]
    body = ["-A INPUT -i lo -j ACCEPT", "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-A INPUT -m conntrack --ctstate INVALID -j DROP", "-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT",
            "-A OUTPUT -o lo -j ACCEPT", "-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-A LOG_DROP -m limit --limit 5/min -j LOG --log-prefix drop:", "-A LOG_DROP -j DROP"]
    chains = [f"CLIENTS_{i}" for i in range(20)]
    lines += [f":{c} - [0:0]" for c in chains]
    for i, chain in enumerate(chains):
        body.append(f"-A INPUT -s 100.{64 + i}.0.0/16 -j {chain}")
    remaining = n_rules - len(body) - 40
    for _ in range(remaining):
        i = rng.randrange(len(chains))
        host = f"100.{64 + i}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        kind = rng.random()
        if kind < 0.70:
            port = rng.choice(SERVICE_PORTS)
            body.append(f"-A {chains[i]} -s {host}/32 -p tcp -m tcp --dport {port} -m conntrack --ctstate NEW -j ACCEPT")
        elif kind < 0.80:
            body.append(f"-A {chains[i]} -s {host}/32 -j DROP")
        elif kind < 0.90:
            ports = ",".join(str(p) for p in rng.sample(SERVICE_PORTS, 3))
            body.append(f"-A {chains[i]} -s {host}/32 -p tcp -m multiport --dports {ports} -j ACCEPT")
        else:
            dst = f"192.0.{rng.randrange(2, 200)}.{rng.randrange(1, 255)}"
            body.append(f"-A OUTPUT -d {dst}/32 -p tcp -m tcp --dport 443 -m conntrack --ctstate NEW -j ACCEPT")
    for chain in chains:
        body.append(f"-A {chain} -j RETURN")
    body += ["-A INPUT -s 10.10.0.0/24 -p tcp -m tcp --dport 22 -j ACCEPT", "-A INPUT -j LOG_DROP",
             "-A OUTPUT -j LOG_DROP"]
    return "\n".join(lines + body + ["COMMIT"]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--packets", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path("/tmp/popcert-bench-firewall.rules"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    args.out.write_text(generate(args.rules, rng))

    checks = default_registry().for_suite("firewall")  # imports every suite: outside the timing
    start = time.perf_counter()
    ctx = build_context(args.out, BASELINE)
    parsed_and_indexed = time.perf_counter() - start
    results = {c.id: c.function(ctx) for c in checks}
    full = time.perf_counter() - start

    ruleset = load_ruleset(args.out)
    names = ctx.analysis.ifaces.names
    packets = [(rng.randrange(2**32) if rng.random() < 0.5 else (100 << 24) | (rng.randrange(64, 84) << 16) | rng.randrange(65536),
                rng.randrange(2**32), rng.choice([6, 17, 1]), rng.randrange(65536),
                rng.choice(SERVICE_PORTS + [22, 80]), rng.randrange(len(names)), 0, rng.randrange(5))
               for _ in range(args.packets)]
    start = time.perf_counter()
    for p in packets:
        evaluate(ruleset, "INPUT", p, names[p[5]], names[0])
    linear = time.perf_counter() - start

    print(f"rules: {ruleset.rule_count} ({args.out})")
    print(f"parse + flatten + index: {parsed_and_indexed:.3f} s")
    print(f"parse + full analysis (all 6 FW checks, incl. shadowed-rule search): {full:.3f} s  (target < 2 s)")
    print(f"baseline: naive first-match evaluation of {args.packets} random packets: {linear:.3f} s")
    print(f"ratio full analysis / baseline: {full / linear:.2f}")
    print("results: " + ", ".join(f"{k}={v.status}" for k, v in results.items()))


if __name__ == "__main__":
    main()
