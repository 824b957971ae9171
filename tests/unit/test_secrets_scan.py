"""The secrets scanner's rules, offline: what it must catch, and the look-alikes it must leave alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.suites.sast.files import inventory
from harness.suites.sast.secrets import scan_secrets, shannon_entropy

# Built by concatenation so this test file itself holds no scannable secret.
JWT = "eyJhbGciOiJFUzI1NiJ9" + "." + "eyJzdWIiOiJwb3J0YWwiLCJleHAiOjE3MDB9" + "." + "c2lnbmF0dXJlX2J5dGVz"
AWS_ID = "AKIA" + "Z7QX3MPLE2HK4N9W"


def _scan(tmp_path: Path, text: str, name: str = "app/settings.py") -> list[str]:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    findings, _ = scan_secrets(inventory(tmp_path))
    return [f.rule for f in findings]


@pytest.mark.parametrize(("line", "rule"), [
    ('DB_PASSWORD = "s3cr3t-Hanoi-2024"', "password-assignment"),
    ("config = {'client_secret': 'Zx81kkQ-portal'}", "password-assignment"),
    ("api_key: 'k-8812-abc-xyz'", "password-assignment"),
    ("-----BEGIN " + "RSA PRIVATE KEY-----", "private-key"),
    ("-----BEGIN " + "OPENSSH PRIVATE KEY-----", "private-key"),
    (f'AWS_KEY_ID = "{AWS_ID}"', "aws-access-key-id"),
    ('aws_secret_access_key = "' + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY" + '"',
     "aws-secret-access-key"),
    (f'TOKEN_FOR_TESTS = "{JWT}"', "jwt"),
    ('SIGNING_SEED = "' + "q8Zr3Lm1Xv9Tb2Nc7Wd4Ks6Jh0Pf5Gy" + '"', "high-entropy-string"),
])
def test_catches(tmp_path: Path, line: str, rule: str) -> None:
    assert rule in _scan(tmp_path, line + "\n")


@pytest.mark.parametrize("line", [
    'password = os.environ["NPDB_PASSWORD"]',
    'password = ""',
    'PASSWORD_FIELD = "password"',
    'secret = "${NPDB_SECRET}"',
    'token = "<your token here>"',
    'help_text = "enter your password to continue"',
    'label = "Secret:"',
    'ALPHABET = "abcdefghijklmnopqrstuvwxyz"',  # long but low entropy
    'name = "Nguyễn Thị Minh Khai"',
    "-----BEGIN CERTIFICATE-----",  # a certificate is public
    'TOKEN_ENV = "POPCERT_CONF_TOKEN"',  # names an environment variable
    '"token_type": "Bearer"',
    'key_file = "portal-secret.pem"',
])
def test_leaves_alone(tmp_path: Path, line: str) -> None:
    assert _scan(tmp_path, line + "\n") == []


@pytest.mark.parametrize("fixture", ["tests/test_auth.py", "pkg/tests/keys.py",
                                     "tests/fixtures/token.txt", "conftest.py"])
def test_fixtures_are_allowlisted(tmp_path: Path, fixture: str) -> None:
    assert _scan(tmp_path, f'TOKEN = "{JWT}"\n', name=fixture) == []


def test_fingerprint_survives_a_line_move(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text('DB_PASSWORD = "s3cr3t-Hanoi-2024"\n')
    [before], _ = scan_secrets(inventory(tmp_path))
    (tmp_path / "a.py").write_text('"""doc"""\n\nDB_PASSWORD = "s3cr3t-Hanoi-2024"\n')
    [after], _ = scan_secrets(inventory(tmp_path))
    assert before.fingerprint == after.fingerprint and after.line == 3


def test_other_text_files_are_scanned(tmp_path: Path) -> None:
    assert _scan(tmp_path, "npdb:\n  client_secret: 'Zx81kkQ-portal'\n", name="deploy/app.yaml") \
        == ["password-assignment"]


def test_entropy_of_known_strings() -> None:
    assert shannon_entropy("aaaa") == 0
    assert shannon_entropy("abcd") == 2


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_never_crashes_on_arbitrary_text(text: str) -> None:
    from harness.suites.sast.secrets import _line_findings

    for rule, message in _line_findings(text):
        assert rule and message


def test_a_secret_padded_far_into_a_long_line_is_caught(tmp_path: Path) -> None:
    padding = "x = [" + "1, " * 5000 + "]; "
    assert _scan(tmp_path, padding + 'DB_PASSWORD = "s3cr3t-Hanoi-2024"\n') \
        == ["password-assignment"]


def test_a_secret_at_the_end_of_a_large_file_is_caught(tmp_path: Path) -> None:
    filler = "# generated\n" * 300_000  # 3.6 MB, over the old 2 MB skip limit
    rules = _scan(tmp_path, filler + 'DB_PASSWORD = "s3cr3t-Hanoi-2024"\n', name="deploy/big.env")
    assert rules == ["password-assignment"]


@pytest.mark.parametrize("folder", ["build", "dist", "build/lib/app"])
def test_build_and_dist_are_scanned(tmp_path: Path, folder: str) -> None:
    assert _scan(tmp_path, 'DB_PASSWORD = "s3cr3t-Hanoi-2024"\n', name=f"{folder}/settings.py") \
        == ["password-assignment"]


def test_a_symlink_inside_the_tree_is_scanned_once(tmp_path: Path) -> None:
    (tmp_path / "real.py").write_text('DB_PASSWORD = "s3cr3t-Hanoi-2024"\n')
    (tmp_path / "alias.py").symlink_to(tmp_path / "real.py")
    findings, _ = scan_secrets(inventory(tmp_path))
    assert [f.relative for f in findings] == ["real.py"]


def test_a_symlink_out_of_the_tree_is_listed_not_read(tmp_path: Path) -> None:
    root = tmp_path / "src"
    root.mkdir()
    (tmp_path / "secret.py").write_text('DB_PASSWORD = "s3cr3t-Hanoi-2024"\n')
    (root / "link.py").symlink_to(tmp_path / "secret.py")
    files = inventory(root)
    findings, _ = scan_secrets(files)
    assert findings == []
    assert [(s.relative, s.python) for s in files.not_analysed] == [("link.py", True)]
