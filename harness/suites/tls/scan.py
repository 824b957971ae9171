"""One sslyze scan of the SUT's TLS endpoint, shared by every TLS check.

The scan runs exactly the commands sslyze's Mozilla checker needs (a superset of what the
dedicated checks read), validates against the run's CA bundle, and presents the portal's client
certificate when the SUT requires mTLS. Scope: sslyze speaks TLS only to the declared host and
port; its one HTTP command (HTTP_HEADERS, which follows redirects) is never run. The scan runs in a
child process (worker.py) killed at its deadline: an endpoint can hold sslyze inside a C call
where no Python timeout fires.
"""

from __future__ import annotations

import json
import shlex
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sslyze import (
    CertificateInfoExtraArgument,
    ClientAuthenticationCredentials,
    ScanCommand,
    ScanCommandsExtraArguments,
    Scanner,
    ServerConnectivityStatusEnum,
    ServerHostnameCouldNotBeResolved,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanResult,
    ServerScanStatusEnum,
)
from sslyze.mozilla_tls_profile.tls_config_checker import (
    SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
)

from harness.hostile.deadline import handshake_deadline
from harness.hostile.limits import HANDSHAKE_TIMEOUT_S
from harness.live import POLL_S
from harness.processes import spawn
from harness.suites.tls import transfer
from harness.suites.tls.trust import load_public_trust_stores

# HTTP_HEADERS sends HTTP requests and follows redirects: excluded even if sslyze's Mozilla
# checker starts to want it (docs/security-model.md, scope).
SCAN_COMMANDS = frozenset(SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER) - {ScanCommand.HTTP_HEADERS}
# sslyze opens several connections per cipher suite; a few at a time is plenty on loopback and
# keeps a small SUT (and the 2-core CI box) from being flooded.
CONCURRENT_CONNECTIONS = 5
NETWORK_TIMEOUT_S = HANDSHAKE_TIMEOUT_S
# sslyze bounds each socket operation, not the scan: a hostile endpoint answering just inside
# every timeout could hold it for hours, and one flooding HelloRequests holds it inside OpenSSL.
# Past this the scanning child's process group is killed and the TLS checks report an error.
SCAN_DEADLINE_S = 240.0
# A --quick run (never a certificate) has 420 s for every suite: a scan held to the full deadline
# (HelloRequest flood after a sound preflight) left no time for scenario and load. A loopback
# scan takes about 3 s.
QUICK_SCAN_DEADLINE_S = 60.0


class TlsScanError(Exception):
    """The endpoint could not be scanned (not TLS, refused, unresolvable): checks report ``error``."""


@dataclass(frozen=True)
class TlsTarget:
    host: str
    port: int
    ca_bundle: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None

    @classmethod
    def from_url(cls, base_url: str, ca_bundle: Path | None = None,
                 client_cert: Path | None = None, client_key: Path | None = None) -> TlsTarget:
        parts = urlsplit(base_url)
        if parts.scheme != "https" or not parts.hostname:
            raise TlsScanError(f"{base_url} is not an https URL: the SUT exposes no TLS endpoint "
                               "to certify (the connection API must be served over TLS)")
        return cls(parts.hostname, parts.port or 443, ca_bundle, client_cert, client_key)

    @property
    def display(self) -> str:
        return f"{self.host}:{self.port}"

    def reproduction(self) -> str:
        """The sslyze command line an assessor can run to see the same scan."""
        args = ["sslyze", "--mozilla_config=intermediate"]
        if self.ca_bundle:
            args.append(f"--certinfo_ca_file={self.ca_bundle}")
        if self.client_cert and self.client_key:
            args += [f"--cert={self.client_cert}", f"--key={self.client_key}"]
        return shlex.join([*args, self.display])


def scan(target: TlsTarget, deadline_s: float = SCAN_DEADLINE_S,
         on_progress: Callable[[str], None] | None = None) -> ServerScanResult:
    """Scan ``target`` once; raise ``TlsScanError`` if sslyze could not even connect or finish.

    The scan (``scan_here``) runs in a child killed, with its whole process group, at
    ``deadline_s`` after the preflight: the deadline holds even inside a C call.
    ``on_progress`` hears how long the scan has run, every POLL_S.
    """
    _preflight(target)
    with tempfile.TemporaryDirectory(prefix="popcert-tls-") as folder:
        request, result, log = (Path(folder) / n for n in ("target.json", "result.pickle",
                                                             "worker.log"))
        request.write_text(json.dumps({
            "host": target.host, "port": target.port, **{
                k: str(v) if v else None for k, v in (("ca_bundle", target.ca_bundle),
                                                      ("client_cert", target.client_cert),
                                                      ("client_key", target.client_key))}}),
            encoding="utf-8")
        with open(log, "wb") as output:
            child = spawn([sys.executable, "-m", "harness.suites.tls.worker", str(request),
                           str(result)], name="sslyze", stdout=output,
                          stderr=subprocess.STDOUT, deadline_s=deadline_s)
            try:
                _wait_reporting(child, target, deadline_s, on_progress)
            finally:
                child.stop(grace_s=0)  # anything left in its group
        if not result.exists() and child.timed_out:
            raise TlsScanError(f"the sslyze scan of {target.display} did not finish within "
                               f"{deadline_s:g} s (an endpoint answering just inside every "
                               "timeout, or holding the handshake); the scan was killed")
        if not result.exists():
            tail = log.read_text(encoding="utf-8", errors="replace")[-600:].strip()
            raise TlsScanError(f"the sslyze scan of {target.display} ended (exit "
                               f"{child.returncode}) without a result: {tail}")
        status, value = transfer.loads(result.read_bytes())
    if status != "ok":
        raise TlsScanError(str(value))
    scanned: ServerScanResult = value
    return scanned


def _wait_reporting(child: subprocess.Popen[bytes], target: TlsTarget, deadline_s: float,
                    on_progress: Callable[[str], None] | None) -> None:
    started = time.monotonic()
    while True:
        try:
            child.wait(timeout=POLL_S)
            return
        except subprocess.TimeoutExpired:
            if on_progress is not None:
                on_progress(f"sslyze scan of {target.display}: {time.monotonic() - started:.0f} s "
                            f"(at most {deadline_s:.0f} s)")


def _preflight(target: TlsTarget) -> None:
    """One handshake with a total deadline: a silent endpoint fails in seconds, not after sslyze
    has tried every protocol version with retries (about a minute). Any answer, even a refusal
    of the handshake, is left for sslyze to judge."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if target.client_cert and target.client_key:
        context.load_cert_chain(target.client_cert, target.client_key)
    started = time.monotonic()
    try:
        with socket.create_connection((target.host, target.port), NETWORK_TIMEOUT_S) as raw:
            raw.settimeout(NETWORK_TIMEOUT_S)  # CPython bounds the handshake's waits by it...
            # ... but not a peer that keeps OpenSSL busy inside one C call (HelloRequest flood).
            with handshake_deadline(raw, started + NETWORK_TIMEOUT_S), \
                    context.wrap_socket(raw, server_hostname=target.host):
                pass
    except TimeoutError:  # HandshakeTimeout included
        raise TlsScanError(f"{target.display} accepted a connection but did not complete a TLS "
                           f"handshake within {NETWORK_TIMEOUT_S} s") from None
    except ConnectionRefusedError as refused:
        raise TlsScanError(f"cannot connect to {target.display}: {refused}") from None
    except (OSError, ssl.SSLError):
        return  # an answer: sslyze tells which protocols and ciphers it accepts


def scan_here(target: TlsTarget) -> ServerScanResult:
    """The sslyze scan in this process, unbounded: what the scanning child (worker.py) runs."""
    load_public_trust_stores()  # quietly: public roots with serial 0 (harness/suites/tls/trust.py)
    try:
        location = ServerNetworkLocation(target.host, target.port)
    except ServerHostnameCouldNotBeResolved as unresolved:
        raise TlsScanError(f"cannot resolve {target.host}: {unresolved}") from None
    credentials = None
    if target.client_cert and target.client_key:
        credentials = ClientAuthenticationCredentials(
            certificate_chain_path=Path(target.client_cert), key_path=Path(target.client_key))
    network = ServerNetworkConfiguration(
        tls_server_name_indication=target.host, tls_client_auth_credentials=credentials,
        # sslyze annotates network_timeout as int; it is a socket timeout, which takes float seconds
        network_timeout=NETWORK_TIMEOUT_S, network_max_retries=1)  # type: ignore[arg-type]
    extra = ScanCommandsExtraArguments(
        certificate_info=CertificateInfoExtraArgument(custom_ca_file=Path(target.ca_bundle))
        if target.ca_bundle else None)
    request = ServerScanRequest(server_location=location, network_configuration=network,
                                scan_commands=set(SCAN_COMMANDS),
                                scan_commands_extra_arguments=extra)
    scanner = Scanner(per_server_concurrent_connections_limit=CONCURRENT_CONNECTIONS,
                      concurrent_server_scans_limit=1)
    scanner.queue_scans([request])
    result = next(iter(scanner.get_results()))
    if result.connectivity_status != ServerConnectivityStatusEnum.COMPLETED:
        trace = result.connectivity_error_trace
        reason = trace.exc_type.__name__ + ": " + str(trace) if trace else "unknown error"
        raise TlsScanError(f"sslyze could not connect to {target.display} over TLS ({reason})")
    if result.scan_status != ServerScanStatusEnum.COMPLETED or result.scan_result is None:
        raise TlsScanError(f"the sslyze scan of {target.display} did not complete")
    return result
