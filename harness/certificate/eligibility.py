"""Which runs a certificate may be issued from: only a full run at the profile's level, of a
vendor's system, with the assessor's own waivers and attestations (issue 21).

`certificate issue` refuses, each reason naming the fix:
- a demo run (`popcert demo`) or a --quick run (fewer examples, a few seconds of load);
- a load test shorter than the profile's ``thresholds.load.duration_s`` when load checks count;
- the bundled reference system (its name, or the fingerprint of its shipped source or ruleset);
- waivers or attestations from a file marked as popcert's shipped example, or copied from one;
- a target on a loopback or link-local address, unless the assessor says why with
  ``--allow-lab-target REASON`` (recorded in the certificate).
"""

from __future__ import annotations

import ipaddress
import tempfile
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from harness import resources
from harness.assessor import load_attestations, load_waivers
from harness.certificate.fingerprints import ruleset_fingerprint, source_tree_fingerprint
from harness.errors import PopcertError
from harness.profiles import Profile
from harness.report.banner import DEMO, FULL, QUICK
from harness.report.document import ReportDocument

# How the lab (harness/lab.py) names the bundled reference system in its run config.
REFERENCE_NAME = "Reference city system"
REFERENCE_ORGANISATION = "popcert (example)"
LAB_TARGET_OPTION = "--allow-lab-target"
FULL_RUN = "popcert certify -c run.yaml (without --quick) against the vendor's deployed system"


def lab_target(base_url: str) -> str | None:
    """Why the target is a lab address (loopback, link-local, unspecified), or None."""
    try:
        host = (urlsplit(base_url).hostname or "").rstrip(".").lower()
    except ValueError:
        return f"its base_url {base_url!r} does not parse"
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is the local machine"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: judged where it is deployed, not resolved here
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return f"{host} is a loopback address"
    if address.is_link_local:
        return f"{host} is a link-local address"
    if address.is_unspecified:
        return f"{host} is the unspecified address"
    return None


def refusals(report: ReportDocument, profile: Profile, *,
             allow_lab_target: str | None = None) -> list[str]:
    """Every reason no certificate may come from this (verified, CERTIFIED) report."""
    reasons: list[str] = []
    run = report.run
    if run.mode == DEMO:
        reasons.append("it is a `popcert demo` run of the bundled reference system, not a "
                       f"certification — run {FULL_RUN}")
    elif run.quick or run.mode == QUICK:
        reasons.append("it is a --quick run (fewer examples, a shortened load test): a "
                       f"certificate needs a full run at the profile's level — run {FULL_RUN}")
    elif run.mode != FULL:
        reasons.append(f"the report does not record a full run (run.mode {run.mode!r}) — run "
                       f"{FULL_RUN} with this popcert")
    reasons.extend(_load_too_short(report, profile))
    reasons.extend(_reference_system(report))
    reasons.extend(_example_inputs(report))
    why_lab = lab_target(report.system.base_url)
    if why_lab and allow_lab_target is None:
        reasons.append(f"the target {report.system.base_url} is a lab target ({why_lab}): a "
                       "certificate vouches for a deployed system — certify it where it is "
                       f"deployed, or, for a lab certification, pass {LAB_TARGET_OPTION} "
                       "\"REASON\" (the reason is recorded in the certificate)")
    if allow_lab_target is not None and not allow_lab_target.strip():
        reasons.append(f"{LAB_TARGET_OPTION} needs a reason, recorded in the certificate: "
                       f"{LAB_TARGET_OPTION} \"isolated pre-production lab of the vendor\"")
    return reasons


def _load_too_short(report: ReportDocument, profile: Profile) -> list[str]:
    counts = [c for c in (report.run.registered_checks or ()) if c.startswith("LOAD-")
              and profile.is_mandatory(c)]
    if not counts:
        return []
    from harness.suites.load.thresholds import resolve_thresholds

    bar = resolve_thresholds(profile.thresholds.get("load")).duration_s
    ran = report.run.load_duration_s
    if ran is None or ran < bar:
        return [(f"the load test ran {'no' if ran is None else f'{ran:g}'} seconds, below the "
                 f"{profile.name} profile's thresholds.load.duration_s of {bar:g} s — run "
                 f"{FULL_RUN}")]
    return []


def _reference_system(report: ReportDocument) -> list[str]:
    system, fingerprints = report.system, report.run.fingerprints
    named = system.name == REFERENCE_NAME or system.organisation == REFERENCE_ORGANISATION
    shipped_source, shipped_rulesets = reference_fingerprints()
    same_source = fingerprints is not None and fingerprints.source_tree is not None \
        and fingerprints.source_tree == shipped_source
    same_ruleset = fingerprints is not None and fingerprints.firewall_ruleset in shipped_rulesets
    if not (named or same_source or same_ruleset):
        return []
    what = ("its name" if named else "its source tree fingerprint" if same_source
            else "its firewall ruleset fingerprint")
    return [(f"it certifies popcert's bundled reference city system ({what} is the shipped "
             "example's), not a vendor's — point run.yaml's target, source and firewall at the "
             "vendor's system")]


@lru_cache(maxsize=1)
def reference_fingerprints() -> tuple[str | None, frozenset[str]]:
    """The bundled reference system's source tree fingerprint (as the lab hands it to a run) and
    its shipped rulesets' fingerprints; (None, empty) when popcert_city is not installed."""
    try:
        from popcert_city import source_tree
        from popcert_city.firewall_policy import ruleset
    except ImportError:
        return None, frozenset()
    with tempfile.TemporaryDirectory(prefix="popcert-reference-") as scratch:
        source = source_tree_fingerprint(source_tree.source(frozenset(), Path(scratch) / "src"))
        rulesets = {ruleset_fingerprint(ruleset(frozenset(), fmt, Path(scratch) / "fw"))
                    for fmt in ("iptables",)}
        shipped = Path(source_tree.PACKAGE_DIR) / "firewall"
        rulesets |= {ruleset_fingerprint(p) for p in shipped.glob("ruleset.*") if p.is_file()}
    return source, frozenset(r for r in rulesets if r)


def _example_inputs(report: ReportDocument) -> list[str]:
    reasons = [f"its {name} come from a file marked as popcert's shipped example (`example:`), "
               f"nobody's sign-off — write the assessor's own {name} file (run.yaml "
               f"assessor.{name}) and re-run" for name in report.run.example_inputs or ()]
    statements, waived = shipped_examples()
    copied = sorted({a.item_id for a in report.attestations
                     if a.status == "attested" and (a.assessor, a.statement) in statements})
    if copied and "attestations" not in (report.run.example_inputs or ()):
        reasons.append(f"the attestations of {', '.join(copied)} are copied from popcert's "
                       "shipped examples — the assessor attests what they verified, in their own "
                       "attestations file, and re-runs")
    copied_waivers = sorted({r.check.id for r in report.results if r.waiver is not None
                             and (r.waiver.check_id, r.waiver.reason) in waived})
    if copied_waivers and "waivers" not in (report.run.example_inputs or ()):
        reasons.append(f"the waivers of {', '.join(copied_waivers)} are copied from popcert's "
                       "shipped examples — write the assessor's own waivers file and re-run")
    return reasons


@lru_cache(maxsize=1)
def shipped_examples() -> tuple[frozenset[tuple[str, str]], frozenset[tuple[str, str]]]:
    """(assessor, statement) of every shipped example attestation, (check_id, reason) of every
    shipped example waiver: a copy with the ``example:`` mark removed is still an example."""
    attestation_files = [resources.data_path("examples", "assessor", "attestations.yaml")]
    try:
        from harness.checklist import city_system_dir

        attestation_files.append(city_system_dir() / "attestations.yaml")
    except ImportError:
        pass
    statements: set[tuple[str, str]] = set()
    for path in attestation_files:
        try:
            statements |= {(a.assessor, a.statement) for a in load_attestations(path)}
        except (PopcertError, OSError):
            continue  # an installation without the file has nothing to compare with
    waived: set[tuple[str, str]] = set()
    try:
        waived = {(w.check_id, w.reason) for w in load_waivers(
            resources.data_path("examples", "assessor", "waivers.yaml"))}
    except (PopcertError, OSError):
        pass
    return frozenset(statements), frozenset(waived)
