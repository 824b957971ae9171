"""The examples each command's ``--help`` ends with (typer ``epilog``), by command path.

Kept as data in one place so a test can hold every command to having them. No square brackets:
the help is rendered as rich markup.
"""

from __future__ import annotations

EXAMPLES: dict[str, tuple[str, ...]] = {
    "certify": ("popcert certify -c run.yaml",
                "popcert certify -c run.yaml --quick --seed 7",
                "popcert certify -c run.yaml --suite auth --suite tls"),
    "demo": ("popcert demo",
             "popcert demo --defect auth.alg_none_accepted --suite auth",
             "popcert demo --no-quick --level province"),
    "init": ("popcert init run.yaml", "popcert init lab/run.yaml --force"),
    "checks": ("popcert checks", "popcert checks --coverage --profile ministry",
               "popcert checks --where AUTH-JWT-ALG-NONE", "popcert checks --json"),
    "report": ("popcert report reports/runs/city-system/20250401T090000-000",),
    "sign": (("popcert sign reports/runs/city-system/20250401T090000-000/report.json "
             "--key keys/assessor.key.pem"),),
    "verify": ("popcert verify report.json",
               "popcert verify report.json --public-key /etc/popcert/assessor.pub.pem"),
    "diff": ("popcert diff last-year/report.json report.json",
             "popcert diff old.json new.json --plain"),
    "keys new": ("popcert keys new --out-dir keys --name nguyen-van-a",),
    "keys trust": ("popcert keys trust nguyen-van-a.pub.pem --name nguyen-van-a",),
    "keys list": ("popcert keys list", "popcert keys list --trust-store ci/trusted_keys"),
    "mock serve": (("popcert mock serve --state-dir .popcert/npdb --data-port 8443 "
                   "--admin-port 8444"),
                   "popcert mock serve --mtls required --trust-ca certs/sut-ca.pem"),
    "mock credential": ("popcert mock credential token --client portal --scope dossier.read",
                        "popcert mock credential ca --state-dir .popcert/npdb"),
    "certificate issue": (("popcert certificate issue report.json --key keys/assessor.key.pem "
                          "--assessor 'Nguyễn Văn A'"),),
    "certificate list": ("popcert certificate list", "popcert certificate list --json"),
    "certificate show": ("popcert certificate show PC-2026-3F9A0C12B7E4",
                         "popcert certificate show certificate.json"),
    "certificate revoke": (("popcert certificate revoke PC-2026-3F9A0C12B7E4 --reason 'key compromise' "
                           "--key keys/assessor.key.pem"),),
    "certificate verify": ("popcert certificate verify certificate.json",
                           "popcert certificate verify certificate.json --registry registry.sqlite3"),
    "registry site": ("popcert registry site public/",),
    "load capacity": ("popcert load capacity -c run.yaml",
                      "popcert load capacity -c run.yaml --start-rps 20 --max-rps 500"),
    "load worker": ("POPCERT_LOAD_JOIN=CODE popcert load worker --master 10.0.0.5:5557",),
}


def epilog(command: str) -> str:
    """The ``Examples:`` block of ``popcert COMMAND --help``."""
    return "Examples:\n\n" + "\n\n".join(f"  {line}" for line in EXAMPLES[command])
