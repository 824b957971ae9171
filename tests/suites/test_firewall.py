"""The firewall suite on the reference city system's ruleset: each defect fails exactly its check."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from examples.city_system.firewall_policy import FIREWALL_DEFECTS, HERE, ruleset
from harness.checks import Status, SuiteUnavailable
from harness.registry import default_registry
from harness.suites.firewall import build_context
from harness.suites.firewall.model import RulesetParseError
from harness.suites.firewall.parse import load_ruleset

BASELINE = Path(__file__).resolve().parents[2] / "specs/firewall/baseline.yaml"
# defect switch -> the one check it must fail, as the checks declare it
EXPECTED = {d: c.id for c in default_registry().for_suite("firewall") for d in c.defects}


def _results(path: Path) -> dict[str, Status]:
    ctx = build_context(path, BASELINE)
    return {c.id: c.function(ctx).status for c in default_registry().for_suite("firewall")}


def test_every_check_names_its_defect() -> None:
    checks = default_registry().for_suite("firewall")
    assert all(len(c.defects) == 1 for c in checks)
    assert len(EXPECTED) == len(checks)
    assert set(FIREWALL_DEFECTS) == set(EXPECTED)


@pytest.mark.parametrize("fmt", ["iptables", "nft"])
def test_reference_ruleset_passes_every_check(fmt: str, tmp_path: Path) -> None:
    results = _results(ruleset(frozenset(), fmt, tmp_path))
    assert set(results.values()) == {Status.PASS}, results


@pytest.mark.parametrize("fmt", ["iptables", "nft"])
@pytest.mark.parametrize("defect", sorted(EXPECTED))
def test_defect_fails_exactly_its_own_check(fmt: str, defect: str, tmp_path: Path) -> None:
    results = _results(ruleset(frozenset({defect}), fmt, tmp_path))
    assert {cid for cid, status in results.items() if status != Status.PASS} == {EXPECTED[defect]}
    assert results[EXPECTED[defect]] == Status.FAIL


def test_inbound_counterexample_is_a_concrete_packet(tmp_path: Path) -> None:
    path = ruleset(frozenset({"firewall.inbound_not_restricted"}), "iptables", tmp_path)
    result = default_registry()["FW-INBOUND-GATEWAY-ONLY"].function(build_context(path, BASELINE))
    finding = next(e.data for e in result.evidence if e.data.get("rule") == "counterexample")
    packet = finding["packet"]
    assert packet["proto"] == "tcp" and packet["dport"] == 443 and packet["ct_state"] == "new"
    assert not packet["src"].startswith(("203.0.113.", "198.51.100."))
    assert finding["line"] == 26 and "--dport 443 -j ACCEPT" in finding["rule_text"]


def test_shadowed_rule_names_the_rule_that_covers_it(tmp_path: Path) -> None:
    path = ruleset(frozenset({"firewall.shadowed_rule"}), "iptables", tmp_path)
    result = default_registry()["FW-SHADOWED-RULES"].function(build_context(path, BASELINE))
    finding = next(e.data for e in result.evidence if e.kind == "finding")
    assert finding["rule"] == "shadowed" and "203.0.113.66" in finding["rule_text"]
    assert finding["covered_by"] == [next(x for x in path.read_text().splitlines() if "gateway A" in x)]


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
    return shutil.which(cmd[0]) is not None and subprocess.run(cmd, capture_output=True).returncode == 0


@pytest.mark.parametrize("defect", [None, *sorted(EXPECTED)])
def test_iptables_restore_accepts_every_variant(defect: str | None, tmp_path: Path) -> None:
    reference = [shutil.which("iptables-restore") or "iptables-restore", "--test", str(HERE / "ruleset.iptables")]
    if not _tool_works(reference):
        pytest.skip("iptables-restore --test cannot run here (missing, or no netfilter access)")
    path = ruleset(frozenset({defect} if defect else set()), "iptables", tmp_path)
    proc = subprocess.run([reference[0], "--test", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("defect", [None, *sorted(EXPECTED)])
def test_nft_accepts_every_variant(defect: str | None, tmp_path: Path) -> None:
    if not _tool_works(["nft", "-j", "-c", "-f", str(HERE / "ruleset.nft.json")]):
        pytest.skip("nft -j -c cannot run here (missing, or no netfilter access)")
    path = ruleset(frozenset({defect} if defect else set()), "nft", tmp_path)
    proc = subprocess.run(["nft", "-j", "-c", "-f", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_nft_check_really_rejects_a_broken_ruleset(tmp_path: Path) -> None:
    if not _tool_works(["nft", "-j", "-c", "-f", str(HERE / "ruleset.nft.json")]):
        pytest.skip("nft -j -c cannot run here")
    doc = json.loads((HERE / "ruleset.nft.json").read_text())
    doc["nftables"].append({"rule": {"family": "inet", "table": "filter", "chain": "no_such_chain",
                                     "expr": [{"accept": None}]}})
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc))
    assert subprocess.run(["nft", "-j", "-c", "-f", str(broken)], capture_output=True).returncode != 0


def test_nft_json_is_what_the_kernel_makes_of_the_nft_text() -> None:
    """ruleset.nft.json must stay `nft -j list ruleset` of ruleset.nft (loaded in a private netns)."""
    if not _tool_works(["unshare", "-n", "true"]):
        pytest.skip("cannot create a network namespace here (unshare -n)")
    proc = subprocess.run(["unshare", "-n", "sh", "-c", f"nft -f {HERE / 'ruleset.nft'} && nft -j list ruleset"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"nft cannot load rules in a namespace here: {proc.stderr.strip()}")
    strip = lambda doc: [i for i in doc["nftables"] if "metainfo" not in i]  # noqa: E731
    assert strip(json.loads(proc.stdout)) == strip(json.loads((HERE / "ruleset.nft.json").read_text()))


def test_suite_context_reads_the_run_config(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from harness.config import FirewallConfig

    path = ruleset(frozenset({"firewall.ssh_open"}), "nft", tmp_path)
    run = SimpleNamespace(config=SimpleNamespace(firewall=FirewallConfig(ruleset=path, format="auto")))
    suite = default_registry().suite("firewall")
    assert suite is not None
    ctx = next(suite.context(run))
    assert ctx.analysis.ruleset.format == "nft"
    assert default_registry()["FW-ADMIN-PORTS"].function(ctx).status == Status.FAIL
