"""The part of SAST that parses Python (bandit and the TLS rule), run in a bounded child process.

An AST costs ~200 times its source in memory (a 2 MB file: ~450 MB), so a vendor's large or
hostile file is parsed under an address-space cap and a deadline (bandit.analyse_python),
never in the harness. ``python -m harness.suites.sast.worker REQUEST.json RESULT.json``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any


def analyse(paths: list[str]) -> dict[str, Any]:
    from bandit.core import config as b_config
    from bandit.core import manager as b_manager

    from harness.suites.sast.tls_rule import scan_source

    # bandit logs every parse problem at WARNING; they come back as skipped files instead.
    logging.getLogger("bandit").setLevel(logging.CRITICAL)
    manager = b_manager.BanditManager(b_config.BanditConfig(), "file", quiet=True,
                                      ignore_nosec=True)
    manager.files_list = sorted(paths)
    manager.run_tests()
    issues = [{"file": issue.fname, "line": issue.lineno, "rule": issue.test_id,
               "name": issue.test, "message": issue.text, "severity": issue.severity.lower(),
               "confidence": issue.confidence.lower()} for issue in manager.get_issue_list()]
    bandit_skipped = [[name, str(reason)] for name, reason in manager.get_skipped()]
    tls: list[dict[str, Any]] = []
    tls_skipped: list[list[str]] = []
    for path in sorted(paths):
        try:
            text = Path(path).read_bytes().decode("utf-8", errors="replace")
            for finding in scan_source(text, path):
                tls.append({"file": path, "line": finding.line, "rule": finding.rule,
                            "message": finding.message, "severity": finding.severity})
        except (SyntaxError, ValueError, RecursionError, MemoryError, OSError) as failure:
            tls_skipped.append([path, f"cannot parse: {type(failure).__name__}: {failure}"[:300]])
    return {"bandit": issues, "bandit_skipped": bandit_skipped, "tls": tls,
            "tls_skipped": tls_skipped}


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    result = analyse(list(request["files"]))
    Path(argv[2]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover - the child's entry point
    sys.exit(main(sys.argv))
