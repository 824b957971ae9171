"""The typed NPDB boundary and the one PortalClient the suites ask for.

Both NPDB handles (a mock started for the run, a handle on a mock started elsewhere) satisfy
``NPDBHandle`` with real attributes; ``run.portal()`` picks the portal's TLS material the way the
profile demands, and an HTTPS server on 127.0.0.1 that requires a national-CA client certificate
shows which certificate ``portal.http()`` actually presents.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest

from harness.config import REPO_ROOT, config_from_dict
from harness.lab import RunningMock
from harness.net import ScopeGuard
from harness.profiles import load_profile
from harness.run_context import RunContext
from harness.sut.npdb_boundary import NPDBHandle
from harness.sut.portal import API_BASE_PATH, PORTAL_SCOPES, PortalClient, api_url
from popcert_npdb.launcher import MockNPDB

# What the suites may use of RunContext.npdb: nothing more, nothing less.
MEMBERS = {"state_dir", "seed", "population", "pki", "admin", "minter", "register"}


def _protocol_members() -> set[str]:
    return {name for name in vars(NPDBHandle) if not name.startswith("_")}


def _assert_real_members(handle: object) -> None:
    """Each member is an attribute of the instance or a method of its class, not a fallback."""
    assert not hasattr(type(handle), "__getattr__")
    for name in MEMBERS:
        if name in ("minter", "register"):
            assert callable(getattr(type(handle), name))
        else:
            assert name in vars(handle), f"{type(handle).__name__}.{name} is not an attribute"


def test_the_protocol_names_exactly_what_the_suites_use() -> None:
    assert _protocol_members() == MEMBERS


def test_a_mock_started_for_the_run_is_an_npdb_handle(tmp_path: Path) -> None:
    handle: NPDBHandle = MockNPDB(tmp_path, population=1000, seed=4)  # a static check, too
    assert isinstance(handle, NPDBHandle)
    _assert_real_members(handle)
    assert (handle.seed, handle.population, handle.state_dir) == (4, 1000, tmp_path)


def test_a_running_mock_handle_is_an_npdb_handle(mock_npdb: Any) -> None:
    handle: NPDBHandle = RunningMock(mock_npdb.state_dir, population=1000, seed=6)
    assert isinstance(mock_npdb, NPDBHandle) and isinstance(handle, NPDBHandle)
    _assert_real_members(handle)
    assert handle.admin is not None and handle.admin.health()  # the same running mock
    assert handle.minter().kid == mock_npdb.minter().kid  # the same signing key
    drawn = handle.admin.sample("adult", 3, 11)  # the mock's people are the register's
    assert drawn and all(handle.register().by_personal_id(r["personal_id"]).to_dict() == r
                         for r in drawn)
    assert mock_npdb.register().sample("adult", 3, 11) == handle.register().sample("adult", 3, 11)


def test_an_object_missing_a_member_is_not_an_npdb_handle(tmp_path: Path) -> None:
    class NoPopulation:
        def __init__(self) -> None:
            self.state_dir, self.seed, self.pki, self.admin = tmp_path, 6, None, None

        def minter(self) -> None:
            return None

        def register(self) -> None:
            return None

    assert not isinstance(NoPopulation(), NPDBHandle)


def _run(tmp_path: Path, npdb: NPDBHandle | None, *, level: str = "province",
         base_url: str = "https://127.0.0.1:9", client_cert: Path | None = None,
         client_key: Path | None = None, ca_bundle: Path | None = None) -> RunContext:
    target: dict[str, Any] = {"base_url": base_url, "timeout_s": 5}
    if ca_bundle is not None:
        target["ca_bundle"] = str(ca_bundle)
    if client_cert is not None:
        target |= {"client_cert": str(client_cert), "client_key": str(client_key)}
    state_dir = npdb.state_dir if npdb is not None else tmp_path / "npdb"
    config = config_from_dict({
        "system": {"name": "portal test", "organisation": "tests", "level": level},
        "target": target, "npdb": {"start": False, "state_dir": str(state_dir)},
        "output_dir": str(tmp_path / "runs")}, REPO_ROOT)
    return RunContext(config, load_profile(level), tmp_path / "run", ScopeGuard(["127.0.0.1"]),
                      workdir=tmp_path, npdb=npdb)


@pytest.mark.parametrize("base_url", ["https://127.0.0.1:9", "https://127.0.0.1:9/",
                                      "https://127.0.0.1:9/connection/v1"])
def test_the_api_base_path_is_appended_once(tmp_path: Path, base_url: str) -> None:
    portal = _run(tmp_path, MockNPDB(tmp_path / "npdb"), base_url=base_url).portal()
    assert portal.api_url == "https://127.0.0.1:9" + API_BASE_PATH
    assert api_url(portal.api_url) == portal.api_url


def test_mtls_required_without_a_configured_certificate_presents_the_portal_certificate(
        tmp_path: Path) -> None:
    npdb = MockNPDB(tmp_path / "npdb")
    portal = PortalClient.for_run(_run(tmp_path, npdb, level="province"))
    issued = npdb.pki.client_cert_set("portal")["valid"]
    assert (portal.tls.client_cert, portal.tls.client_key) == (issued.cert_path, issued.key_path)


def test_the_configured_certificate_wins_over_the_portal_certificate(tmp_path: Path) -> None:
    npdb = MockNPDB(tmp_path / "npdb")
    own = npdb.pki.issue("assessor-client", kind="client", sans=())
    portal = _run(tmp_path, npdb, client_cert=own.cert_path, client_key=own.key_path).portal()
    assert portal.tls.client_cert == own.cert_path


@pytest.mark.parametrize("level", ["district"])  # mtls: optional
def test_without_mtls_required_no_certificate_is_added(tmp_path: Path, level: str) -> None:
    portal = _run(tmp_path, MockNPDB(tmp_path / "npdb"), level=level).portal()
    assert portal.tls.client_cert is None


def test_a_bad_portal_certificate_keeps_the_run_ca(tmp_path: Path) -> None:
    npdb = MockNPDB(tmp_path / "npdb")
    npdb.pki.ensure()
    portal = _run(tmp_path, npdb, ca_bundle=npdb.pki.ca_path).portal()
    expired = portal.certificate("expired")
    assert expired.ca_bundle == npdb.pki.ca_path
    assert expired.client_cert == npdb.pki.client_cert_set("portal")["expired"].cert_path


def test_token_has_the_given_scopes_and_verifies_with_the_npdb_key(tmp_path: Path) -> None:
    npdb = MockNPDB(tmp_path / "npdb")
    portal = _run(tmp_path, npdb).portal()
    token = portal.token(scopes=["dossier.read"], lifetime_s=120)
    jwks = jwt.PyJWKSet.from_dict(npdb.minter().public_jwks())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    claims = jwt.decode(token, key.key, algorithms=["ES256"], audience=jwt.decode(
        token, options={"verify_signature": False})["aud"])
    assert (claims["sub"], claims["scope"], claims["exp"] - claims["iat"]) == \
        ("portal", "dossier.read", 120)
    default = jwt.decode(portal.token(client_id="portal-b"), options={"verify_signature": False})
    assert (default["sub"], default["scope"]) == ("portal-b", " ".join(PORTAL_SCOPES))


def test_without_a_handle_tokens_are_signed_with_the_configured_state_folder(
        tmp_path: Path) -> None:
    npdb = MockNPDB(tmp_path / "npdb")
    kid = npdb.minter().kid  # the keys the configured state folder holds
    portal = _run(tmp_path, None).portal()
    assert portal.run.config.npdb.state_dir == tmp_path / "npdb"
    assert jwt.get_unverified_header(portal.token())["kid"] == kid


# --- a real HTTPS server on 127.0.0.1 requiring a national-CA client certificate -----------

class _PeerEcho(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        peer = self.connection.getpeercert() or {}  # type: ignore[attr-defined]
        subject = dict(item for rdn in peer.get("subject", ()) for item in rdn)
        body = json.dumps({"cn": subject.get("commonName"), "path": self.path,
                           "bearer": self.headers.get("Authorization", "").startswith("Bearer ")
                           }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def mtls_server(tmp_path: Path) -> Iterator[Callable[[MockNPDB], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(npdb: MockNPDB) -> str:
        server_cert = npdb.pki.issue("portal-test-sut", kind="server")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(server_cert.cert_path, server_cert.key_path)
        context.load_verify_locations(npdb.pki.ca_path)
        context.verify_mode = ssl.CERT_REQUIRED
        server = ThreadingHTTPServer(("127.0.0.1", 0), _PeerEcho)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"https://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_http_presents_the_portal_certificate_where_mtls_is_required(
        tmp_path: Path, mtls_server: Callable[[MockNPDB], str]) -> None:
    npdb = MockNPDB(tmp_path / "npdb")
    base_url = mtls_server(npdb)
    portal = _run(tmp_path, npdb, level="province", base_url=base_url,
                  ca_bundle=npdb.pki.ca_path).portal()
    with portal.http() as client:
        exchange = client.request("GET", portal.api_url + "/dossiers",
                                  headers={"Authorization": f"Bearer {portal.token()}"})
    assert exchange.status == 200, exchange.error
    assert exchange.json() == {"cn": "portal", "path": API_BASE_PATH + "/dossiers",
                               "bearer": True}


def test_http_without_mtls_required_presents_no_certificate_and_is_refused(
        tmp_path: Path, mtls_server: Callable[[MockNPDB], str]) -> None:
    npdb = MockNPDB(tmp_path / "npdb")
    base_url = mtls_server(npdb)
    portal = _run(tmp_path, npdb, level="district", base_url=base_url,
                  ca_bundle=npdb.pki.ca_path).portal()
    with portal.http() as client:
        exchange = client.request("GET", portal.api_url + "/dossiers")
    assert exchange.status is None and exchange.error  # the handshake fails: no certificate
