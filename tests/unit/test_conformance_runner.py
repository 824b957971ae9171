"""The conformance pipeline on a tiny in-test API: attribution by root cause, hostile servers.

A small starlette app with switchable bugs stands in for the SUT so the schemathesis subprocess,
the NDJSON parsing and the CONF- verdicts are tested without the reference system.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # starts small servers on 127.0.0.1

from harness.checks import Status
from harness.suites.conformance.checks import verdict_for
from harness.suites.conformance.context import ConformanceContext, PublishedSpec
from harness.suites.conformance.latency import LatencyReport
from harness.suites.conformance.mapping import CHECK_IDS, root_causes
from harness.suites.conformance.runner import FuzzPlan, run_schemathesis

SPEC = textwrap.dedent("""\
    openapi: 3.1.0
    info: {title: toy, version: "1"}
    servers: [{url: /connection/v1}]
    components:
      securitySchemes:
        nationalToken: {type: http, scheme: bearer}
      schemas:
        Dossier:
          type: object
          required: [dossier_id, status]
          properties:
            dossier_id: {type: string}
            status: {type: string, enum: [received, completed]}
    security: [{nationalToken: []}]
    paths:
      /dossiers:
        post:
          operationId: submitDossier
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [procedure_code]
                  additionalProperties: false
                  properties:
                    procedure_code: {type: string, enum: ["1.001193"]}
          responses:
            "201":
              description: created
              content: {application/json: {schema: {$ref: '#/components/schemas/Dossier'}}}
              links:
                GetDossier:
                  operationId: getDossier
                  parameters: {dossier_id: '$response.body#/dossier_id'}
            "400": {description: invalid, content: {application/json: {schema: {type: object}}}}
            "401": {description: no token, content: {application/json: {schema: {type: object}}}}
      /dossiers/{dossier_id}:
        get:
          operationId: getDossier
          parameters:
            - {name: dossier_id, in: path, required: true, schema: {type: string}}
          responses:
            "200":
              description: ok
              content: {application/json: {schema: {$ref: '#/components/schemas/Dossier'}}}
            "401": {description: no token, content: {application/json: {schema: {type: object}}}}
            "404": {description: unknown, content: {application/json: {schema: {type: object}}}}
""")

APP = textwrap.dedent("""\
    import itertools, sys
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route
    BUG, PORT = sys.argv[1], int(sys.argv[2])
    ids = itertools.count(1); store = {}
    def authorised(req): return req.headers.get("authorization") == "Bearer toy-token"
    async def submit(req):
        if not authorised(req): return JSONResponse({"error": "unauthorised"}, 401)
        try: body = await req.json()
        except Exception: body = None
        valid = isinstance(body, dict) and body.get("procedure_code") == "1.001193" and len(body) == 1
        if not valid:
            if BUG == "server_error": return PlainTextResponse("Traceback ...", 500)
            if BUG == "teapot": return JSONResponse({"error": "bad"}, 418)
            return JSONResponse({"error": "invalid"}, 400)
        dossier_id = f"d-{next(ids)}"; store[dossier_id] = {"dossier_id": dossier_id, "status": "received"}
        if BUG == "text_plain": return PlainTextResponse(str(store[dossier_id]), 201)
        return JSONResponse(store[dossier_id], 201)
    async def read(req):
        if not authorised(req): return JSONResponse({"error": "unauthorised"}, 401)
        dossier = store.get(req.path_params["dossier_id"])
        if dossier is None: return JSONResponse({"error": "unknown"}, 404)
        if BUG == "bad_schema": return JSONResponse({**dossier, "status": "lost"})
        return JSONResponse(dossier)
    app = Starlette(routes=[Route("/connection/v1/dossiers", submit, methods=["POST"]),
                            Route("/connection/v1/dossiers/{dossier_id}", read)])
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="error")
""")

HOSTILE = textwrap.dedent("""\
    import asyncio, sys
    MODE, PORT = sys.argv[1], int(sys.argv[2])
    async def handle(reader, writer):
        try: await reader.readuntil(b"\\r\\n\\r\\n")
        except Exception: writer.close(); return
        if MODE == "reset": writer.transport.abort(); return
        if MODE == "hang": await asyncio.sleep(3600); return
        writer.write(b"\\x00\\xffNOT HTTP\\r\\n\\r\\n"); await writer.drain(); writer.close()
    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", PORT)
        async with server: await server.serve_forever()
    asyncio.run(main())
""")


def free_port() -> int:
    # The port is handed to a child process, so it cannot bind 0 itself and report back.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("toy")
    (folder / "spec.yaml").write_text(SPEC)
    (folder / "app.py").write_text(APP)
    (folder / "hostile.py").write_text(HOSTILE)
    return folder


def serve(script: Path, mode: str) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen([sys.executable, str(script), mode, str(port)])
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/connection/v1"
    finally:
        server.kill()
        server.wait()


def fuzz(toy_dir: Path, base_url: str, name: str, **overrides: object) -> ConformanceContext:
    settings: dict[str, object] = {
        "spec_path": toy_dir / "spec.yaml", "base_url": base_url, "token": "toy-token",
        "workdir": toy_dir / name, "seed": 11, "max_examples": 8, "max_response_time_s": 5.0,
        "bearer_scheme": "nationalToken", "request_timeout_s": 2.0, "wall_timeout_s": 90.0}
    settings.update(overrides)
    plan = FuzzPlan(**settings)  # type: ignore[arg-type]
    return ConformanceContext(plan, run_schemathesis(plan), 5000.0, PublishedSpec(),
                              LatencyReport())


# The checks the fuzzing run decides (every CONF- check but the latency and drift ones).
CONF_IDS = tuple(dict.fromkeys(CHECK_IDS.values()))


def statuses(ctx: ConformanceContext) -> dict[str, Status]:
    return {cid: verdict_for(ctx, cid, cid).status for cid in CONF_IDS}


@pytest.mark.parametrize(("bug", "expected"), [
    ("none", None),
    ("server_error", "CONF-SERVER-ERRORS"),
    ("teapot", "CONF-STATUS-CODE"),
    ("text_plain", "CONF-CONTENT-TYPE"),
    ("bad_schema", "CONF-RESPONSE-SCHEMA"),
])
def test_each_bug_fails_exactly_its_check(toy_dir: Path, bug: str, expected: str | None) -> None:
    for base_url in serve(toy_dir / "app.py", bug):
        ctx = fuzz(toy_dir, base_url, f"run-{bug}")
        results = statuses(ctx)
        failed = {cid for cid, status in results.items() if status == Status.FAIL}
        assert failed == ({expected} if expected else set()), results
        assert all(s == Status.PASS for cid, s in results.items() if cid != expected), results
        if expected:
            result = verdict_for(ctx, expected, expected)
            commands = [e.data["command"] for e in result.evidence if e.kind == "reproduction"]
            assert any(c.startswith("curl ") and "$TOKEN" in c for c in commands)
            assert "toy-token" not in str([e.to_json() for e in result.evidence])
            assert any("--seed" in c or "seed 11" in c for c in commands)


@pytest.mark.parametrize("mode", ["reset", "garbage"])
def test_hostile_server_gives_error_results(toy_dir: Path, mode: str) -> None:
    for base_url in serve(toy_dir / "hostile.py", mode):
        ctx = fuzz(toy_dir, base_url, f"hostile-{mode}", max_examples=2)
        results = statuses(ctx)
        assert set(results.values()) == {Status.ERROR}, results


def test_hanging_server_is_killed_at_the_wall_clock_limit(toy_dir: Path) -> None:
    for base_url in serve(toy_dir / "hostile.py", "hang"):
        started = time.monotonic()
        ctx = fuzz(toy_dir, base_url, "hostile-hang", max_examples=2, wall_timeout_s=8.0,
                   request_timeout_s=1.0)
        assert time.monotonic() - started < 30
        assert ctx.outcome.timed_out
        assert verdict_for(ctx, "CONF-SERVER-ERRORS", "x").status == Status.ERROR


def test_root_cause_keeps_one_check_per_defect() -> None:
    assert root_causes({"not_a_server_error", "status_code_conformance",
                        "content_type_conformance"}, 500) == {"not_a_server_error"}
    assert root_causes({"status_code_conformance", "negative_data_rejection"}, 418) == {
        "status_code_conformance"}
    assert root_causes({"status_code_conformance", "negative_data_rejection"}, 200) == {
        "status_code_conformance", "negative_data_rejection"}
    assert root_causes({"content_type_conformance", "response_schema_conformance"}, 201) == {
        "content_type_conformance"}
