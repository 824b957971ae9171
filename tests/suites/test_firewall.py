"""The firewall suite on the reference city system's ruleset: each defect fails exactly its checks."""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.checks import Status, SuiteUnavailable
from harness.registry import default_registry
from harness.suites.firewall.context import build_context
from harness.suites.firewall.model import RulesetParseError
from harness.suites.firewall.parse import load_ruleset
from popcert_city.firewall_policy import FIREWALL_DEFECTS, HERE, ruleset, split_families

BASELINE = Path(__file__).resolve().parents[2] / "specs/firewall/baseline.yaml"
# defect switch -> the checks it must fail (or, for an error switch, make `error`), as declared
EXPECTED: dict[str, set[str]] = {}
for _check in default_registry().for_suite("firewall"):
    for _defect in _check.defects:
        EXPECTED.setdefault(_defect, set()).add(_check.id)
ERROR_SWITCHES = {"firewall.ipv6_missing"}  # the checks cannot judge: error, never pass
LIVE_SWITCHES = {"firewall.live_port_open"}  # the ruleset file is unchanged: the live tests below
STATIC = sorted(set(EXPECTED) - ERROR_SWITCHES - LIVE_SWITCHES)
DUAL_STACK = [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]


def _results(path: Path, addresses: list = DUAL_STACK) -> dict[str, Status]:
    ctx = build_context(path, BASELINE, addresses=addresses)
    return {c.id: c.function(ctx).status for c in default_registry().for_suite("firewall")}


def test_every_check_names_its_defect() -> None:
    checks = default_registry().for_suite("firewall")
    assert all(c.defects for c in checks)
    assert set(FIREWALL_DEFECTS) == set(EXPECTED)


@pytest.mark.parametrize("fmt", ["iptables", "nft"])
def test_reference_ruleset_passes_every_check(fmt: str, tmp_path: Path) -> None:
    results = _results(ruleset(frozenset(), fmt, tmp_path))
    # No run config: the live scan does not run (the live tests below run it).
    assert results.pop("FW-LIVE-EXPOSURE") == Status.SKIP
    assert set(results.values()) == {Status.PASS}, results


@pytest.mark.parametrize("fmt", ["iptables", "nft"])
@pytest.mark.parametrize("defect", STATIC)
def test_defect_fails_exactly_its_own_checks(fmt: str, defect: str, tmp_path: Path) -> None:
    results = _results(ruleset(frozenset({defect}), fmt, tmp_path))
    results.pop("FW-LIVE-EXPOSURE")
    assert {cid for cid, status in results.items() if status != Status.PASS} == EXPECTED[defect]
    assert {results[c] for c in EXPECTED[defect]} == {Status.FAIL}


@pytest.mark.parametrize("fmt", ["iptables", "nft"])
def test_dual_stack_sut_without_ipv6_ruleset_is_an_error_never_a_pass(fmt: str, tmp_path: Path) -> None:
    path = ruleset(frozenset({"firewall.ipv6_missing"}), fmt, tmp_path)
    results = _results(path)
    assert {c for c, s in results.items() if s == Status.ERROR} == EXPECTED["firewall.ipv6_missing"] - {"FW-LIVE-EXPOSURE"}
    result = default_registry()["FW-ADMIN-PORTS"].function(build_context(path, BASELINE, addresses=DUAL_STACK))
    assert "IPv6 address(es) ::1 but no IPv6 ruleset" in result.summary and "IPv4: ports" in result.summary
    # The same file for an IPv4-only SUT is judged on IPv4 alone, and passes.
    v4_only = _results(path, [ipaddress.ip_address("127.0.0.1")])
    v4_only.pop("FW-LIVE-EXPOSURE")
    assert set(v4_only.values()) <= {Status.PASS, Status.SKIP}


def test_ip6tables_file_is_judged_as_ipv6_with_ipv6_counterexamples(tmp_path: Path) -> None:
    """The issue's case: an ip6tables-save file was read as IPv4 (and IPv4 packets shown)."""
    text = (HERE / "ruleset.ip6tables").read_text().replace("--dport 443 -j GATEWAY_IN", "--dport 443 -j ACCEPT")
    path = tmp_path / "six.rules"
    path.write_text(text)
    ctx = build_context(path, BASELINE)
    assert set(ctx.families) == {"ipv6"}
    result = default_registry()["FW-INBOUND-GATEWAY-ONLY"].function(ctx)
    assert result.status == Status.FAIL and result.summary.startswith("IPv6:")
    packet = next(e.data for e in result.evidence if e.kind == "finding")["packet"]
    assert packet["family"] == "ipv6" and ":" in packet["src"] and ":" in packet["dst"]
    assert not ipaddress.ip_address(packet["src"]) in ipaddress.ip_network("2001:db8:203::/48")
    # a locked-down ip6tables file no longer passes as if it were the IPv4 policy
    note = next(e.data["text"] for e in result.evidence if e.title == "IPv6 ruleset")
    assert note.startswith("IPv6 ip6tables-save ruleset") and "30 rules" in note


def test_inbound_counterexample_is_a_concrete_packet(tmp_path: Path) -> None:
    path = ruleset(frozenset({"firewall.inbound_not_restricted"}), "iptables", tmp_path)
    result = default_registry()["FW-INBOUND-GATEWAY-ONLY"].function(build_context(path, BASELINE))
    finding = next(e.data for e in result.evidence if e.data.get("rule") == "counterexample")
    packet = finding["packet"]
    assert packet["proto"] == "tcp" and packet["dport"] == 443 and packet["ct_state"] == "new"
    assert not packet["src"].startswith(("203.0.113.", "198.51.100."))
    assert finding["line"] == 26 and "--dport 443 -j ACCEPT" in finding["rule_text"]
    assert finding["packet"]["family"] == "ipv4"


def test_shadowed_rule_names_the_rule_that_covers_it(tmp_path: Path) -> None:
    path = ruleset(frozenset({"firewall.shadowed_rule"}), "iptables", tmp_path)
    result = default_registry()["FW-SHADOWED-RULES"].function(build_context(path, BASELINE))
    finding = next(e.data for e in result.evidence if e.kind == "finding")
    assert finding["rule"] == "shadowed" and "203.0.113.66" in finding["rule_text"]
    assert finding["covered_by"] == [next(x for x in path.read_text().splitlines() if "gateway A" in x)]
    assert finding["family"] == "ipv4"


def test_unreadable_ruleset_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    path = ruleset(frozenset(), "iptables", tmp_path)
    lines = path.read_text().splitlines()
    at = lines.index("-A INPUT -i lo -j ACCEPT")
    lines.insert(at + 1, "-A INPUT -m string --string evil --algo bm -j DROP")
    path.write_text("\n".join(lines) + "\n")
    # The engine records this summary and evidence as `error` on every firewall check.
    with pytest.raises(SuiteUnavailable) as unavailable:
        build_context(path, BASELINE)
    assert f"{path}:{at + 2}" in unavailable.value.summary and "-m string" in unavailable.value.summary
    assert unavailable.value.evidence[0].data["line"] == at + 2


def test_unreadable_nft_rule_is_an_error_naming_its_index_and_handle(tmp_path: Path) -> None:
    path = ruleset(frozenset(), "nft", tmp_path)
    doc = json.loads(path.read_text())
    index, rule = next((i, item["rule"]) for i, item in enumerate(doc["nftables"]) if "rule" in item)
    rule["expr"].insert(0, {"match": {"op": "==", "left": {"osf": {"key": "name"}}, "right": "Linux"}})
    path.write_text(json.dumps(doc))
    with pytest.raises(RulesetParseError) as err:
        load_ruleset(path)
    assert err.value.line == index and f"handle {rule['handle']}" in err.value.message


# ---- the rulesets are real syntax ----------------------------------------------------------

def _tool_works(cmd: list[str]) -> bool:
    return shutil.which(cmd[0]) is not None and subprocess.run(cmd, check=False, capture_output=True).returncode == 0


@pytest.mark.parametrize("defect", [None, *sorted(EXPECTED)])
def test_iptables_restore_accepts_every_variant(defect: str | None, tmp_path: Path) -> None:
    tools = {"ipv4": "iptables-restore", "ipv6": "ip6tables-restore"}
    sources = {"ipv4": HERE / "ruleset.iptables", "ipv6": HERE / "ruleset.ip6tables"}
    for family, tool in tools.items():
        if not _tool_works([shutil.which(tool) or tool, "--test", str(sources[family])]):
            pytest.skip(f"{tool} --test cannot run here (missing, or no netfilter access)")
    path = ruleset(frozenset({defect} if defect else set()), "iptables", tmp_path)
    for family, half in zip(tools, split_families(path.read_text())):
        if not half.strip():
            continue  # firewall.ipv6_missing: no IPv6 half
        (tmp_path / family).write_text(half)
        proc = subprocess.run([tools[family], "--test", str(tmp_path / family)], check=False, capture_output=True, text=True)
        assert proc.returncode == 0, (family, proc.stderr)


@pytest.mark.parametrize("defect", [None, *sorted(EXPECTED)])
def test_nft_accepts_every_variant(defect: str | None, tmp_path: Path) -> None:
    if not _tool_works(["nft", "-j", "-c", "-f", str(HERE / "ruleset.nft.json")]):
        pytest.skip("nft -j -c cannot run here (missing, or no netfilter access)")
    path = ruleset(frozenset({defect} if defect else set()), "nft", tmp_path)
    proc = subprocess.run(["nft", "-j", "-c", "-f", str(path)], check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_nft_check_really_rejects_a_broken_ruleset(tmp_path: Path) -> None:
    if not _tool_works(["nft", "-j", "-c", "-f", str(HERE / "ruleset.nft.json")]):
        pytest.skip("nft -j -c cannot run here")
    doc = json.loads((HERE / "ruleset.nft.json").read_text())
    doc["nftables"].append({"rule": {"family": "inet", "table": "filter", "chain": "no_such_chain",
                                     "expr": [{"accept": None}]}})
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc))
    assert subprocess.run(["nft", "-j", "-c", "-f", str(broken)], check=False, capture_output=True).returncode != 0


def test_nft_json_is_what_the_kernel_makes_of_the_nft_text() -> None:
    """ruleset.nft.json must stay `nft -j list ruleset` of ruleset.nft (loaded in a private netns)."""
    if not _tool_works(["unshare", "-n", "true"]):
        pytest.skip("cannot create a network namespace here (unshare -n)")
    proc = subprocess.run(["unshare", "-n", "sh", "-c", f"nft -f {HERE / 'ruleset.nft'} && nft -j list ruleset"],
                          check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"nft cannot load rules in a namespace here: {proc.stderr.strip()}")
    strip = lambda doc: [i for i in doc["nftables"] if "metainfo" not in i]
    assert strip(json.loads(proc.stdout)) == strip(json.loads((HERE / "ruleset.nft.json").read_text()))


def test_suite_context_reads_the_run_config(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from harness.config import FirewallConfig

    path = ruleset(frozenset({"firewall.ssh_open"}), "nft", tmp_path)
    run = SimpleNamespace(config=SimpleNamespace(
        firewall=FirewallConfig(ruleset=path, format="auto", live={"enabled": False}),
        target=SimpleNamespace(base_url="https://127.0.0.1:9")))
    suite = default_registry().suite("firewall")
    assert suite is not None
    ctx = next(suite.context(run))
    assert ctx.analysis.ruleset.format == "nft" and set(ctx.families) == {"ipv4", "ipv6"}
    assert [str(a) for a in ctx.sut_addresses] == ["127.0.0.1"] and ctx.live is None
    assert default_registry()["FW-LIVE-EXPOSURE"].function(ctx).summary == (
        "firewall.live.enabled is false: the host was not scanned")
    assert default_registry()["FW-ADMIN-PORTS"].function(ctx).status == Status.FAIL


# ---- FW-LIVE-EXPOSURE on loopback ----------------------------------------------------------

def _ipv6_loopback() -> str | None:
    """Why ::1 cannot be used here, or None when it can."""
    import socket

    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError as exc:
        return f"::1 is not usable on this machine: {exc}"
    return None


class _Listeners:
    """Extra services on loopback (port chosen by the OS), accepting and closing connections."""

    def __init__(self, addresses: list[str], count: int = 1) -> None:
        import socket

        self.sockets = []
        self.ports: list[int] = []
        for i in range(count):
            port = 0
            for address in addresses:
                sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
                if ":" in address:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((address, port))
                sock.listen(64)  # the kernel completes the handshake: no accept loop needed
                port = sock.getsockname()[1]
                self.sockets.append(sock)
            self.ports.append(port)

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


LOCKED = """*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -s {gw} -p tcp -m tcp --dport 443 -j ACCEPT
-A INPUT -p tcp -m tcp --dport {open_port} -m comment --comment "public status page" -j ACCEPT
-A INPUT -p tcp -j REJECT --reject-with tcp-reset
COMMIT
"""


# The loopback tests probe only their own ports (baseline_ports=False): the machine running them
# may have its own sshd or database on loopback, which these declared rulesets drop.
def _live_ctx(tmp_path: Path, addresses: list[str], extra_ports: tuple[int, ...], open_port: int = 1,
              allowed: list[str] | None = None, stands_for: str = "internet", declared_port: int = 443):
    from harness.net import ScopeGuard
    from harness.suites.firewall.context import LiveScan

    path = tmp_path / "declared.rules"
    path.write_text(LOCKED.format(gw="203.0.113.0/24", open_port=open_port)
                    + "# Generated by ip6tables-save\n" + LOCKED.format(gw="2001:db8:203::/48", open_port=open_port))
    live = LiveScan(ScopeGuard(allowed if allowed is not None else addresses), declared_port, extra_ports,
                    stands_for=stands_for, baseline_ports=False)
    return build_context(path, BASELINE, addresses=[ipaddress.ip_address(a) for a in addresses], live=live)


def _live(ctx):
    return default_registry()["FW-LIVE-EXPOSURE"].function(ctx)


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_live_port_the_ruleset_drops_fails_naming_port_address_and_rule(address: str, tmp_path: Path) -> None:
    if ":" in address and _ipv6_loopback():
        pytest.skip(_ipv6_loopback())
    stray = _Listeners([address])
    try:
        result = _live(_live_ctx(tmp_path, [address], tuple(stray.ports)))
    finally:
        stray.close()
    assert result.status == Status.FAIL
    finding = next(e.data for e in result.evidence if e.data.get("rule") == "live-port-dropped-by-ruleset")
    assert finding["address"] == address and finding["port"] == stray.ports[0]
    assert finding["line"] == (18 if ":" in address else 8) and "REJECT" in finding["rule_text"]  # the rule that should drop it
    assert finding["family"] == ("ipv6" if ":" in address else "ipv4")
    stood = next(e.data["text"] for e in result.evidence if e.title.startswith("where the scan"))
    assert "in no baseline zone" in stood and "the internet" in stood
    probes = next(e.data["probes"] for e in result.evidence if e.title == "live scan: every probe")
    assert [address, stray.ports[0], stray.ports[0], "open"] == probes[[p[1] for p in probes].index(stray.ports[0])][:4]


def test_live_scan_of_a_host_matching_its_ruleset_passes_and_records_every_probe(tmp_path: Path) -> None:
    addresses = ["127.0.0.1"] + ([] if _ipv6_loopback() else ["::1"])
    service = _Listeners(addresses)  # the documented service, admitted by the ruleset
    try:
        ctx = _live_ctx(tmp_path, addresses, (service.ports[0],), open_port=service.ports[0])
        result = _live(ctx)
    finally:
        service.close()
    assert result.status == Status.PASS, result.summary
    assert "advisory: 1 answering port(s)" in result.summary  # admitted, but is it documented?
    record = next(e.data for e in result.evidence if e.title == "live scan: every probe")
    probed = sum(run[2] - run[1] + 1 for run in record["probes"])
    assert probed == result.measurements["probes"] == len(addresses) * 2  # 443 and the service
    assert {run[3] for run in record["probes"]} <= {"open", "closed"}


def test_live_scan_never_probes_out_of_scope_addresses(tmp_path: Path) -> None:
    result = _live(_live_ctx(tmp_path, ["127.0.0.1", "192.0.2.10"], (), allowed=["127.0.0.1"]))
    record = next(e.data for e in result.evidence if e.title == "live scan: every probe")
    assert {run[0] for run in record["probes"]} == {"127.0.0.1"}
    assert "not probed: 192.0.2.10" in record["text"]
    nothing = _live(_live_ctx(tmp_path, ["192.0.2.10"], (), allowed=["127.0.0.1"]))
    assert nothing.status == Status.ERROR and "scope.allowed_hosts" in nothing.summary


def test_live_scan_of_1000_ports_is_bounded_and_complete(tmp_path: Path) -> None:
    """1,000 ports, some listening: every probe is made and recorded (the timing is bench's)."""
    stray = _Listeners(["127.0.0.1"], count=3)
    try:
        ctx = _live_ctx(tmp_path, ["127.0.0.1"], tuple(range(20000, 20996)) + tuple(stray.ports))
        result = _live(ctx)
    finally:
        stray.close()
    assert result.status == Status.FAIL
    found = {e.data["port"] for e in result.evidence if e.data and e.data.get("rule") == "live-port-dropped-by-ruleset"}
    assert set(stray.ports) <= found
    assert result.measurements["probes"] == 1000  # 996 + 3 listeners + the declared 443


def test_dual_stack_sut_without_ipv6_ruleset_makes_the_live_scan_an_error(tmp_path: Path) -> None:
    if _ipv6_loopback():
        pytest.skip(_ipv6_loopback())
    from harness.net import ScopeGuard
    from harness.suites.firewall.context import LiveScan

    path = tmp_path / "v4.rules"
    path.write_text(LOCKED.format(gw="203.0.113.0/24", open_port=1))
    ctx = build_context(path, BASELINE, addresses=DUAL_STACK,
                        live=LiveScan(ScopeGuard(["127.0.0.1", "::1"]), 443, baseline_ports=False))
    result = _live(ctx)
    assert result.status == Status.ERROR and "IPv6: the SUT has IPv6 address(es) ::1" in result.summary


def test_live_scan_from_inside_a_baseline_zone_judges_that_exact_address(tmp_path: Path) -> None:
    """popcert at 127.0.0.1, with a baseline whose management zone holds it: packets from
    127.0.0.1 are judged, and the ruleset's management rule admits the listening port."""
    from harness.net import ScopeGuard
    from harness.suites.firewall.context import LiveScan

    baseline = tmp_path / "baseline.yaml"
    baseline.write_text(BASELINE.read_text().replace("management_cidrs: [10.10.0.0/24,",
                                                     "management_cidrs: [127.0.0.0/8, 10.10.0.0/24,"))
    service = _Listeners(["127.0.0.1"])
    try:
        path = tmp_path / "mgmt.rules"
        path.write_text(LOCKED.format(gw="203.0.113.0/24", open_port=1).replace(
            "-A INPUT -p tcp -j REJECT",
            f"-A INPUT -s 127.0.0.1/32 -p tcp -m tcp --dport {service.ports[0]} -j ACCEPT\n-A INPUT -p tcp -j REJECT"))
        ctx = build_context(path, baseline, addresses=[ipaddress.ip_address("127.0.0.1")],
                            live=LiveScan(ScopeGuard(["127.0.0.1"]), 443, (service.ports[0],),
                                          baseline_ports=False))
        result = _live(ctx)
    finally:
        service.close()
    stood = next(e.data["text"] for e in result.evidence if e.title.startswith("where the scan"))
    assert "in the baseline's management network zone" in stood and "from 127.0.0.1 are judged" in stood
    assert result.status == Status.PASS, result.summary


def test_live_scan_settings_are_validated_with_a_located_message() -> None:
    from harness.config import config_from_dict
    from harness.errors import ConfigError

    raw = {"system": {"name": "x", "organisation": "y", "level": "district"},
           "target": {"base_url": "https://127.0.0.1:8443"},
           "firewall": {"ruleset": str(HERE / "ruleset.iptables"), "live": {"ports": [0]}}}
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw, Path("."))
    assert "firewall.live.ports" in str(err.value) and "1-65535" in str(err.value)
    raw["firewall"] = {"ruleset": str(HERE / "ruleset.iptables"), "addresses": ["127.0.0.1", "::1"],
                       "format": "ip6tables", "live": {"stands_for": "gateway"}}
    config = config_from_dict(raw, Path("."))
    assert config.firewall is not None and [str(a) for a in config.firewall.addresses] == ["127.0.0.1", "::1"]


def test_live_scan_probes_the_baseline_ports_the_service_port_and_the_extra_ones() -> None:
    from harness.net import ScopeGuard
    from harness.suites.firewall.baseline import load_baseline
    from harness.suites.firewall.context import LiveScan
    from harness.suites.firewall.exposure import probe_ports

    baseline = load_baseline(BASELINE)
    default = probe_ports(baseline, LiveScan(ScopeGuard([]), 8443, (31337,)))
    assert set(default) == {*baseline.admin_ports, *baseline.common_service_ports, 8443, 31337}
    assert probe_ports(baseline, LiveScan(ScopeGuard([]), 8443, (31337,), baseline_ports=False)) == [8443, 31337]
    assert probe_ports(baseline, LiveScan(ScopeGuard([]), 443, full_sweep=True)) == list(range(1, 65536))
