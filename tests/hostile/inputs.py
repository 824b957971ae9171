"""Hostile local inputs (issue 24 items 5-9): text, files and conditions a vendor, a stray local
user or the machine itself hands popcert, rather than a hostile SUT (servers.py).

- ``CONTROL_TEXT``: a system name, an assessor's name and a revocation reason carrying a bidi
  override (U+202E), CSI/OSC escape sequences, BEL, C1 controls, NUL and DEL, with what each must
  look like once cleaned; ``CONTROL`` finds any character report.html would strip.
- ``HOSTILE_YAML``: run.yaml files (binary, nested 50,000 deep, alias bomb, 5,000-digit number,
  month 13, NUL byte, npdb ports clashing or ignored), each with words its one error line must hold.

``tests/hostile/local_cases.py`` runs each against the real `popcert` for bench/hostile.py; the
unit tests (tests/unit/certificate/test_hostile_text.py, tests/unit/test_hostile_yaml.py) use the
same inputs.
"""

from __future__ import annotations

import re

# What report.html strips: C0 except tab and newline, DEL, C1, and the bidi controls.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# name -> (hostile text, the text once cleaned)
CONTROL_TEXT: dict[str, tuple[str, str]] = {
    "system": ("Cổng\u202e dịch vụ\x1b[2J\x1b]0;pwned\x07 công\x9b31m Hà\x85 Nội\x00\x7f",
               "Cổng dịch vụ công Hà Nội"),
    "assessor": ("Lê\x1b[31m Văn\u2066 C\x1b[0m", "Lê Văn C"),
    "reason": ("source\x1b[8m changed\u202e\x07 after review", "source changed after review"),
}

MAX_DEPTH = 100  # harness.yaml_documents.MAX_DEPTH
HEAD = ("system: {name: X, organisation: Y, level: district}\n"
        "target: {base_url: 'https://127.0.0.1:9'}\n")
LAUGHS = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 9))
# case -> (the run.yaml's bytes, words its one error line must hold besides the file's path)
HOSTILE_YAML: dict[str, tuple[bytes, list[str]]] = {
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
               ["line 1", "not UTF-8", "save the config file as UTF-8"]),
    "nested-50000-flow": (HEAD.encode() + b"quick: " + b"[" * 50_000 + b"]" * 50_000,
                          ["line 3", f"deeper than {MAX_DEPTH} levels", "flatten"]),
    "nested-block": ((HEAD + "".join(" " * i + "k:\n" for i in range(150))).encode(),
                     [f"line {3 + MAX_DEPTH}", "deeper than", "flatten"]),
    "billion-laughs": ((HEAD + "l0: &l0 x\n" + LAUGHS).encode(),
                       ["expands to over", "aliases"]),
    "5000-digit-number": ((HEAD + "seed: " + "9" * 5000 + "\n").encode(),
                          ["line 3", "5000 digits", "quote it"]),
    "month-13": ((HEAD + "assessor: {waivers: w.yaml}\nx: 2026-13-01\n").encode(),
                 ["line 4", "month must be in 1..12", "YYYY-MM-DD"]),
    "nul-byte": ((HEAD + "seed: 1\x00\n").encode(), ["line 3", "#x0000", "remove it"]),
    "ports-clash": ((HEAD + "npdb: {start: true, data_port: 19843, admin_port: 19843}\n").encode(),
                    ["npdb.admin_port (line 3)", "19843 is the data_port too",
                     "other than data_port"]),
    "ports-without-start": ((HEAD + "npdb: {start: false, data_port: 19843}\n").encode(),
                            ["npdb.data_port (line 3)", "only when popcert starts the mock",
                             "only with npdb.start: true"]),
    "port-out-of-range": ((HEAD + "npdb: {data_port: 70000}\n").encode(),
                          ["npdb.data_port (line 3)", "65535"]),
}
