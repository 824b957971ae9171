"""Issue 24's local hostile cases for bench/hostile.py: each runs the real `popcert` (or the real
mock NPDB) against one hostile input of tests/hostile/inputs.py and returns what did not hold.

``LOCAL_CATALOGUE`` maps a case name to ``case(folder) -> LocalOutcome``; ``problems`` empty means
held. ``mock-disk-full`` needs root (it mounts a small tmpfs); without it the case is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from tests.hostile.inputs import CONTROL, CONTROL_TEXT, HEAD, HOSTILE_YAML

POPCERT = Path(sys.executable).parent / "popcert"
STOP_TARGET_S = 2.0


@dataclass
class LocalOutcome:
    problems: list[str] = field(default_factory=list)
    figure: str = ""  # what was measured, one line
    skipped: str = ""  # why the case could not run here


def _popcert(*args: str, env: dict[str, str] | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(POPCERT), *args], capture_output=True, text=True, timeout=timeout,
                          check=False, env={**os.environ, "NO_COLOR": "1", "COLUMNS": "1000",
                                            **(env or {})})


def _one_line_error(result: subprocess.CompletedProcess[str], expected: list[str]) -> list[str]:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    problems = []
    if result.returncode != 2:
        problems.append(f"exit {result.returncode}")
    if "Traceback" in result.stderr or len(lines) != 1:
        problems.append(f"{len(lines)} error lines" + (", a traceback" if "Traceback" in
                                                       result.stderr else ""))
    problems += [f"no {words!r}" for words in expected if lines and words not in lines[0]]
    return problems


# --- item 5: control characters in certificate outputs -------------------------------------------
def certificate_control_text(folder: Path) -> LocalOutcome:
    from harness.report import sign as signing
    from harness.signing.canonical import canonical_json
    from harness.signing.keys import keys_new
    from harness.signing.trust import trust_key
    from tests.unit.certificate.conftest import certified

    system, system_shown = CONTROL_TEXT["system"]
    assessor, assessor_shown = CONTROL_TEXT["assessor"]
    reason, reason_shown = CONTROL_TEXT["reason"]
    env = {"POPCERT_TRUST_STORE": str(folder / "trusted"),
           "POPCERT_REGISTRY": str(folder / "registry.sqlite3"),
           "POPCERT_CHECKPOINTS": str(folder / "seen-checkpoints")}
    pair = keys_new(folder / "keys", "assessor")
    trust_key(pair.public_key, folder / "trusted")
    report = folder / "run" / "report.json"
    report.parent.mkdir(parents=True)
    report.write_bytes(canonical_json(certified(system=system)))
    signing.sign_report(report, pair.private_key)
    outputs: dict[str, str] = {}
    issued = _popcert("certificate", "issue", str(report), "--key", str(pair.private_key),
                      "--assessor", assessor, env=env)
    outputs["certificate issue"] = issued.stdout + issued.stderr
    if issued.returncode != 0:
        return LocalOutcome([f"certificate issue exit {issued.returncode}"])
    certificate = report.with_name("certificate.json")
    serial = json.loads(certificate.read_bytes())["serial"]
    for args in (["list"], ["list", "--json"], ["show", serial],
                 ["revoke", serial, "--reason", reason, "--key", str(pair.private_key)],
                 ["verify", str(certificate)]):
        result = _popcert("certificate", *args, env=env)
        outputs[f"certificate {args[0]}{' --json' if '--json' in args else ''}"] = \
            result.stdout + result.stderr
    _popcert("registry", "site", str(folder / "site"), env=env)
    outputs["certificate.html"] = certificate.with_name("certificate.html").read_text("utf-8")
    outputs["registry site"] = (folder / "site" / "index.html").read_text("utf-8")
    problems = [f"{where}: {CONTROL.search(text)!r}" for where, text in outputs.items()
                if CONTROL.search(text)]
    for where, shown in (("certificate.html", system_shown), ("certificate.html", assessor_shown),
                         ("registry site", reason_shown), ("certificate list", system_shown),
                         ("certificate verify", reason_shown)):
        if shown not in outputs[where]:
            problems.append(f"{where}: {shown!r} not shown")
    return LocalOutcome(problems, f"{len(outputs)} outputs, none with a control character"
                        if not problems else "")


# --- item 6: a symlinked run folder --------------------------------------------------------------
def _fake_running_mock(state: Path) -> None:
    state.mkdir(parents=True, exist_ok=True)
    (state / "ready.json").write_text(json.dumps({
        "data_url": "https://127.0.0.1:9", "admin_url": "http://127.0.0.1:9",
        "token_url": "https://127.0.0.1:9/oauth2/token", "jwks_url": "https://127.0.0.1:9/jwks",
        "issuer": "https://id.npdb.test", "pid": 1}), encoding="utf-8")


def symlinked_run_folder(folder: Path) -> LocalOutcome:
    victim = folder / "victim"
    victim.mkdir()
    (folder / "runs").mkdir()
    (folder / "runs" / "hostile-city").symlink_to(victim)
    _fake_running_mock(folder / "npdb")  # read, never contacted: the run stops before traffic
    ruleset = folder / "rules.txt"
    ruleset.write_text("*filter\n:INPUT DROP [0:0]\nCOMMIT\n", encoding="utf-8")
    config = folder / "run.yaml"
    config.write_text(yaml.safe_dump({
        "system": {"name": "Hostile City", "organisation": "bench", "level": "district"},
        "target": {"base_url": "https://127.0.0.1:9"}, "suites": ["firewall"],
        "firewall": {"ruleset": str(ruleset)},
        "npdb": {"start": False, "state_dir": str(folder / "npdb")},
        "output_dir": str(folder / "runs")}), encoding="utf-8")
    problems = _one_line_error(_popcert("certify", "-c", str(config)),
                               [f"{config}: output_dir:", "symbolic link"])
    written = list(victim.rglob("*"))
    if written:
        problems.append(f"{len(written)} files written through the link")
    return LocalOutcome(problems, "refused in one line, 0 files through the link")


# --- item 7: hostile run.yaml, npdb ports ---------------------------------------------------------
def hostile_run_yaml(folder: Path) -> LocalOutcome:
    problems = []
    for name, (content, expected) in HOSTILE_YAML.items():
        config = folder / f"{name}.yaml"
        config.write_bytes(content)
        problems += [f"{name}: {p}" for p in _one_line_error(
            _popcert("certify", "-c", str(config)), [str(config), *expected])]
    return LocalOutcome(problems, f"{len(HOSTILE_YAML)} files, each one line and exit 2")


def npdb_ports(folder: Path) -> LocalOutcome:
    from popcert_npdb.launcher import MockNPDB

    holders = [socket.socket() for _ in range(2)]
    for holder in holders:
        holder.bind(("127.0.0.1", 0))
    data_port, admin_port = (holder.getsockname()[1] for holder in holders)
    for holder in holders:
        holder.close()
    problems = []
    with MockNPDB(folder / "npdb", population=1000, data_port=data_port,
                  admin_port=admin_port) as npdb:
        if not npdb.data_url.endswith(f":{data_port}") or \
                not npdb.admin_url.endswith(f":{admin_port}"):
            problems.append(f"asked {data_port}/{admin_port}, got {npdb.data_url} {npdb.admin_url}")
        config = folder / "taken.yaml"  # the mock above holds the port: a second start is refused
        config.write_text(HEAD + f"npdb: {{start: true, data_port: {data_port}, population: 1000, "
                          f"state_dir: npdb2}}\nsuites: [auth]\noutput_dir: runs\n", "utf-8")
        problems += _one_line_error(_popcert("certify", "-c", str(config)),
                                    ["npdb.data_port", f"cannot listen on port {data_port}"])
    return LocalOutcome(problems, "ports honoured; a taken port refused in one line")


# --- item 8: disk full under the mock's state dir -------------------------------------------------
def mock_disk_full(folder: Path, calls: int = 200) -> LocalOutcome:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return LocalOutcome(skipped="needs root to mount a tmpfs")
    from popcert_npdb.launcher import MockNPDB

    state = folder / "npdb"
    state.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(state)], check=True)
    problems: list[str] = []
    try:
        with MockNPDB(state, population=1000) as npdb:
            context = ssl.create_default_context(cafile=str(npdb.ca_path))
            with httpx.Client(verify=context, timeout=10) as data, \
                    httpx.Client(base_url=npdb.admin_url, timeout=10) as admin:
                before = admin.get("/admin/audit/mark").json()["last_id"]
                filler = state / "filler"
                with open(filler, "wb") as fill:  # until the tmpfs is full
                    try:
                        while True:
                            fill.write(b"\0" * 65536)
                            fill.flush()
                    except OSError:
                        pass
                answers = [data.get(npdb.jwks_url).status_code for _ in range(calls)]
                failed = answers.count(500)
                during = admin.get("/admin/health").json()
                if not failed:
                    problems.append("no call failed closed: the disk was not full")
                if set(answers) - {200, 500}:
                    problems.append(f"answers {sorted(set(answers))}")
                if during["audit"]["state"] != "degraded":
                    problems.append(f"health during the outage: {during['audit']}")
                filler.unlink()
                time.sleep(1.0)  # the flush task (every 0.25 s) finds the disk writable again
                after = admin.get("/admin/health").json()
                entries = admin.get("/admin/audit", params={"since_id": before}).json()["entries"]
        outages = [e for e in entries if e["endpoint"] == "audit-outage"]
        if after["audit"]["state"] != "ok":
            problems.append(f"health after: {after['audit']}")
        if len(outages) != 1:
            problems.append(f"{len(outages)} outage entries")
        elif f"calls_failed_closed:{failed}" not in outages[0]["fields_returned"]:
            problems.append(f"outage entry {outages[0]['fields_returned']} != {failed} failed")
        audited = sum(e["endpoint"] != "audit-outage" for e in entries)
        if audited != answers.count(200):
            problems.append(f"{audited} calls audited, {answers.count(200)} answered 200")
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)
    return LocalOutcome(problems, f"{failed} of {calls} calls failed closed; 1 outage entry"
                        if not problems else "")


# --- item 9: the mock stops on SIGTERM ------------------------------------------------------------
def stop_once(state: str, folder: Path) -> tuple[float, int | None, str]:
    """Seconds from SIGTERM to exit, exit code and log of one mock start in ``state``: ``idle``
    (no connection), ``keep-alive`` (idle pooled TLS and HTTP connections) or ``in-flight`` (also
    a request held by a 60 s timeout fault)."""
    from popcert_npdb.launcher import MockNPDB

    npdb = MockNPDB(folder / "npdb", population=1000).start()
    context = ssl.create_default_context(cafile=str(npdb.ca_path))
    clients: list[httpx.Client] = []
    held: threading.Thread | None = None
    if state in ("keep-alive", "in-flight"):
        clients = [httpx.Client(verify=context, timeout=10), httpx.Client(timeout=10)]
        clients[0].get(npdb.jwks_url)
        clients[1].get(f"{npdb.admin_url}/admin/health")
    if state == "in-flight":
        httpx.post(f"{npdb.admin_url}/admin/faults", json={
            "endpoint": "/.well-known/jwks.json", "kind": "timeout", "latency_ms": 60_000})

        def call() -> None:
            try:
                httpx.get(npdb.jwks_url, verify=context, timeout=90)
            except httpx.HTTPError:
                pass

        held = threading.Thread(target=call, daemon=True)
        held.start()
        time.sleep(0.5)
    child = npdb._proc
    assert child is not None
    started = time.monotonic()
    os.kill(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=60)
    finally:
        took = time.monotonic() - started
        npdb.stop()  # SIGKILL if it is still there
        for client in clients:
            client.close()
    if held is not None:
        held.join(timeout=5)
    log = (folder / "npdb" / "mock.log").read_text(encoding="utf-8", errors="replace")
    return took, child.returncode, log


def mock_sigterm_stop(folder: Path, starts: int = 8) -> LocalOutcome:
    problems, times = [], []
    for n in range(starts):
        state = ("keep-alive", "in-flight")[n % 2]
        took, code, log = stop_once(state, folder / str(n))
        times.append(took)
        if took > STOP_TARGET_S or code != 0:
            problems.append(f"{state}: {took:.1f} s, exit {code}")
        if state == "in-flight" and "request(s) in flight" not in log:
            problems.append("the log does not say what the stop waits for")
    return LocalOutcome(problems, f"{starts} stops, longest {max(times):.2f} s")


LOCAL_CATALOGUE: dict[str, Callable[[Path], LocalOutcome]] = {
    "certificate-control-text": certificate_control_text,
    "symlinked-run-folder": symlinked_run_folder,
    "hostile-run-yaml": hostile_run_yaml,
    "npdb-ports": npdb_ports,
    "mock-disk-full": mock_disk_full,
    "mock-sigterm-stop": mock_sigterm_stop,
}
