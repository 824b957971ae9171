"""Every reproduction command of a failing run reproduces (issue 21 §2).

The reference system runs with token and mTLS defect switches; after the auth suite has failed
them, each failing check's curl is run as the report writes it, against the same live system,
with each of its variables set the way the report says (``popcert mock credential ...`` against
the running mock NPDB), and must get the HTTP status the run recorded. A forged token is in the
command as sent, so the replay sends what was accepted, never an authorised request instead.

Bounded: 127.0.0.1 only, at most MAX_REPLAYS commands, each with curl's --max-time.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.engine import Engine
from harness.lab import Lab, city_options_for

pytestmark = pytest.mark.integration

# Forged-token and certificate defects: each makes the system accept what the check forged. The
# notification switches are left out: a notification's replay re-sends an event the system has
# already processed, which it rightly answers as a replay (409), so it cannot get the same answer.
DEFECTS = frozenset({"auth.alg_none_accepted", "auth.exp_not_checked", "auth.nbf_not_checked",
                     "auth.iss_not_checked", "auth.aud_not_checked",
                     "auth.stripped_signature_accepted", "auth.hs256_key_confusion",
                     "auth.scope_not_enforced", "mtls.expired_cert_accepted"})
MAX_REPLAYS = 60
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/$-])/(?:tmp|home|root|work|usr|opt|var|etc)/")
POPCERT = str(Path(sys.executable).with_name("popcert"))


def replays(report: dict[str, Any]) -> list[tuple[str, int, dict[str, Any]]]:
    """(check id, recorded status, reproduction data) of every curl of every failed check,
    each after the response it reproduces (a probe's evidence: request, response, reproduction)."""
    found = []
    for result in report["results"]:
        if result["status"] != "fail":
            continue
        status = None
        for evidence in result["evidence"]:
            data = evidence["data"]
            if evidence["kind"] == "response" and isinstance(data, dict):
                status = data.get("status")
            elif evidence["kind"] == "reproduction" and data["command"].startswith("curl "):
                assert isinstance(status, int), (result["check"]["id"], data["command"])
                found.append((result["check"]["id"], status, data))
    return found


def environment(data: dict[str, Any], state_dir: Path, cache: dict[str, str]) -> dict[str, str]:
    """The command's variables, each got as the report says (its ``get`` command)."""
    env = {"PATH": f"{Path(POPCERT).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "POPCERT_NPDB_STATE_DIR": str(state_dir), "HOME": os.environ.get("HOME", "/tmp")}
    for variable in data.get("variables", []):
        get = variable["get"]
        assert get.startswith("popcert mock credential "), variable
        if get not in cache:
            got = subprocess.run(["bash", "-c", get], env=env, capture_output=True, text=True,
                                 timeout=60, check=False)
            assert got.returncode == 0 and got.stdout.strip(), (get, got.stderr)
            cache[get] = got.stdout.strip()
        env[variable["name"]] = cache[get]
    return env


def replay_all(lab: Lab, commands: list[tuple[str, int, dict[str, Any]]]) -> int:
    """Run each command as written (a trailing ``# comment`` dropped), its variables got as the
    report says; every one must get its recorded status. Returns how many variables were got."""
    assert 0 < len(commands) <= MAX_REPLAYS
    cache: dict[str, str] = {}
    mismatches = []
    for check_id, recorded, data in commands:
        command = data["command"]
        assert not ABSOLUTE_PATH.search(command), command  # variables, never local paths
        assert "[REDACTED]" not in command, command  # a redacted value cannot be replayed
        env = environment(data, Path(lab.npdb.state_dir), cache)
        runnable = command.split("  # ", 1)[0]
        replay = subprocess.run(
            ["bash", "-c", f"{runnable} --max-time 10 -o /dev/null -w '%{{http_code}}'"],
            env=env, capture_output=True, text=True, timeout=30, check=False)
        if replay.stdout.strip() != str(recorded):
            mismatches.append(f"{check_id}: recorded HTTP {recorded}, replay "
                              f"{replay.stdout.strip() or replay.stderr.strip()}: {command}")
    assert not mismatches, "\n".join(mismatches)
    return len(cache)


def test_every_reproduction_of_a_failing_run_gets_the_recorded_answer(tmp_path: Path) -> None:
    level = "province"  # requires mTLS: the certificate checks run
    with Lab(tmp_path / "lab", DEFECTS, city_options=city_options_for(level)) as lab:
        config = lab.run_config(suites=["auth"], quick=True, level=level,
                                output_dir=tmp_path / "runs")
        report = Engine(config, npdb=lab.npdb).run().report
        commands = replays(report)
        failed = {check_id for check_id, _, _ in commands}
        assert {"AUTH-JWT-ALG-NONE", "AUTH-JWT-EXPIRED", "AUTH-JWT-STRIPPED-SIGNATURE",
                "AUTH-MTLS-EXPIRED"} <= failed, sorted(failed)
        got = replay_all(lab, commands)
        print(f"replayed {len(commands)} reproduction commands of {len(failed)} failed checks "
              f"({got} variables got with popcert mock credential): all matched")
    # A genuine $TOKEN would be served too: the status alone cannot tell the forgery was sent.
    forged = [data["command"] for check_id, _, data in commands
              if check_id.startswith("AUTH-JWT-") and check_id != "AUTH-JWT-AUDIENCE"]
    assert len(forged) >= 5 and all("$TOKEN" not in c and "Bearer eyJ" in c for c in forged)
    alg_none = next(data["command"] for check_id, _, data in commands
                    if check_id == "AUTH-JWT-ALG-NONE")
    header = alg_none.split("Bearer ", 1)[1].split(".", 1)[0]
    assert json.loads(base64.urlsafe_b64decode(header + "=="))["alg"].lower() == "none"
    assert any("$TOKEN" in data["command"] and data["variables"]
               for check_id, _, data in commands if check_id == "AUTH-SCOPE")


def test_a_fuzzing_finding_replays_with_the_token_it_names(tmp_path: Path) -> None:
    """The conformance suite's curls: a genuine $TOKEN (got as the report says) and the TLS
    files as variables; the server error the fuzzer found comes back."""
    with Lab(tmp_path / "lab", frozenset({"conformance.server_error_on_bad_input"})) as lab:
        config = lab.run_config(suites=["conformance"], quick=True, output_dir=tmp_path / "runs")
        report = Engine(config, npdb=lab.npdb).run().report
        commands = [c for c in replays(report) if c[0] == "CONF-SERVER-ERRORS"]
        assert commands and all("$TOKEN" in data["command"] for _, _, data in commands)
        replay_all(lab, commands)
