"""What every TLS check receives (``TlsContext``, read-only) and its factory, which scans the
SUT's HTTPS endpoint once (``scan.scan``). An endpoint that cannot be scanned stops the suite
(SuiteUnavailable).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sslyze import AllScanCommandsAttempts, ServerScanResult

from harness.checks import Evidence, SuiteUnavailable
from harness.run_context import RunContext

# The function under another name: `scan` is the scan.py submodule, and a TlsContext field.
from harness.suites.tls.scan import (
    QUICK_SCAN_DEADLINE_S,
    SCAN_DEADLINE_S,
    TlsScanError,
    TlsTarget,
)
from harness.suites.tls.scan import scan as scan_endpoint

DEFAULT_MIN_DAYS_TO_EXPIRY = 30
DEFAULT_MOZILLA_CONFIG = "intermediate"


@dataclass(frozen=True)
class TlsContext:
    """What every TLS check receives: the scanned target, its completed scan, thresholds."""

    target: TlsTarget
    result: ServerScanResult
    scan: AllScanCommandsAttempts  # result.scan_result: what each scan command found
    min_days_to_expiry: int = DEFAULT_MIN_DAYS_TO_EXPIRY
    mozilla_config: str = DEFAULT_MOZILLA_CONFIG
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def host(self) -> str:
        return self.target.host

    @property
    def ca_bundle(self) -> Path | None:
        return self.target.ca_bundle

    def reproduction(self) -> Evidence:
        return Evidence.reproduction(self.target.reproduction())


def scan_context(target: TlsTarget, min_days_to_expiry: int = DEFAULT_MIN_DAYS_TO_EXPIRY,
                 mozilla_config: str = DEFAULT_MOZILLA_CONFIG,
                 deadline_s: float = SCAN_DEADLINE_S,
                 on_progress: Callable[[str], None] | None = None) -> TlsContext:
    """Scan ``target``; a failed scan raises SuiteUnavailable (every TLS check reports `error`)."""
    try:
        result = scan_endpoint(target, deadline_s, on_progress)
        commands = result.scan_result
        if commands is None:  # scan() raises first; this narrows the type
            raise TlsScanError(f"the sslyze scan of {target.display} did not complete")
    except TlsScanError as failed:
        raise SuiteUnavailable(f"no TLS scan: {failed}",
                               Evidence.reproduction(target.reproduction())) from None
    return TlsContext(target, result, commands, min_days_to_expiry, mozilla_config)


def make_context(run: RunContext) -> Iterator[TlsContext]:
    """Scan the SUT's TLS endpoint once, with the run's CA bundle and client certificate."""
    target_config = run.config.target
    min_days = int(run.threshold("tls", "min_days_to_expiry", DEFAULT_MIN_DAYS_TO_EXPIRY))
    mozilla = str(run.threshold("tls", "mozilla_config", DEFAULT_MOZILLA_CONFIG))
    run.scope.check_url(run.base_url)
    try:
        target = TlsTarget.from_url(run.base_url, target_config.ca_bundle,
                                    target_config.client_cert, target_config.client_key)
    except TlsScanError as not_tls:
        raise SuiteUnavailable(f"no TLS scan: {not_tls}",
                               Evidence.reproduction("sslyze HOST:PORT")) from None
    yield scan_context(target, min_days, mozilla,
                       QUICK_SCAN_DEADLINE_S if run.config.quick else SCAN_DEADLINE_S,
                       lambda text: run.live.phase_update("tls", text))
