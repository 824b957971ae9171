"""The sslyze scan, in a child popcert kills at the scan's deadline.

An endpoint can hold sslyze inside one C call (a HelloRequest flood keeps OpenSSL skipping records
with the GIL held), where no Python timeout, thread join included, can fire: only killing the
process ends it. ``python -m harness.suites.tls.worker TARGET.json RESULT.pickle``: the result
file holds ``("ok", ServerScanResult)`` or ``("error", message)`` (harness/suites/tls/transfer.py).
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path


def main(request: Path, result: Path) -> int:
    from harness.suites.tls import transfer
    from harness.suites.tls.scan import TlsScanError, TlsTarget, scan_here

    fields = json.loads(request.read_text(encoding="utf-8"))
    target = TlsTarget(fields["host"], int(fields["port"]), *(
        Path(fields[k]) if fields.get(k) else None
        for k in ("ca_bundle", "client_cert", "client_key")))
    try:
        outcome: tuple[str, object] = ("ok", scan_here(target))
    except TlsScanError as failed:
        outcome = ("error", str(failed))
    except Exception as crashed:  # noqa: BLE001 - reported by the parent as a failed scan
        traceback.print_exc()
        why = f"{type(crashed).__name__}: {crashed}"
        outcome = ("error", f"the sslyze scan of {target.display} failed: {why}")
    partial = result.with_suffix(".partial")
    partial.write_bytes(transfer.dumps(outcome))
    partial.replace(result)  # whole or absent: a child killed mid-write leaves no result
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
