"""The popcert command line: thin wrappers that parse arguments, call the engine, map exit codes.

Exit codes (harness.commands.errors): 0 certified, 1 not certified (or incomplete), 2 harness or
config error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, get_args

import typer

from harness.commands.errors import console, user_errors
from harness.commands.examples import epilog
from harness.errors import PopcertError

app = typer.Typer(help="popcert: certify a system before it connects to the National Population "
                       "Database (CSDLQG về dân cư).", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
mock_app = typer.Typer(help="The mock National Population Database.", no_args_is_help=True)
keys_app = typer.Typer(help="Assessor signing keys.", no_args_is_help=True)
app.add_typer(mock_app, name="mock")
app.add_typer(keys_app, name="keys")


def _print_version(asked: bool) -> None:
    if asked:
        from harness.report.specs import harness_version

        typer.echo(f"popcert {harness_version()}")  # the installed distribution's metadata
        raise typer.Exit(0)


@app.callback()
def _options(version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version,
        help="Print popcert's version and exit.")] = False) -> None:
    """popcert: certify a system before it connects to the National Population Database."""


def _sigterm_as_interrupt() -> None:
    # SIGTERM (CI cancel, `kill`) and SIGHUP must still leave an INCOMPLETE report, like Ctrl-C
    # does; each also stops popcert's children at once, and at exit its whole process tree ends.
    from harness.processes import exit_on_signals

    exit_on_signals()


@app.command(epilog=epilog("certify"))
@user_errors
def certify(
    config: Annotated[Path, typer.Option("--config", "-c", help="The run config (run.yaml).")],
    quick: Annotated[bool, typer.Option(help="Small budgets for CI (fewer examples, "
                                             "shorter load).")] = False,
    seed: Annotated[int | None, typer.Option(help="Seed for reproducible fuzzing.")] = None,
    suite: Annotated[list[str] | None, typer.Option(metavar="SUITE", help="Run only these suites "
                                                         "(repeatable).")] = None,
    load_workers: Annotated[int | None, typer.Option(help="Locust worker processes.")] = None,
) -> None:
    """Run a certification and write the report; exit 0 certified, 1 not certified, 2 error."""
    from harness.config import load_config
    from harness.runner import certify_with_config

    overrides: dict[str, Any] = {}
    if quick:
        overrides["quick"] = True
    if seed is not None:
        overrides["seed"] = seed
    if suite:
        overrides["suites"] = suite
    run_config = load_config(config, overrides)
    if load_workers is not None:
        run_config = run_config.model_copy(update={"load": run_config.load.model_copy(
            update={"workers": load_workers})})
    _sigterm_as_interrupt()
    outcome = certify_with_config(run_config, console=console,
                                  command=" ".join(["popcert", *sys.argv[1:]]))
    raise typer.Exit(outcome.exit_code)


@app.command(epilog=epilog("demo"))
@user_errors
def demo(
    defect: Annotated[list[str] | None, typer.Option(metavar="SWITCH", help="Turn on a defect switch of the "
                                                          "reference system (repeatable).")] = None,
    quick: Annotated[bool, typer.Option(help="Small budgets.")] = True,
    suite: Annotated[list[str] | None, typer.Option(metavar="SUITE",
                                                    help="Only these suites.")] = None,
    level: Annotated[str, typer.Option(metavar="PROFILE", help="Certification profile: district, "
                                                              "province or ministry.")] = "district",
) -> None:
    """Start the mock NPDB and the reference city system, certify it, print the verdict."""
    from harness.runner import run_demo

    _sigterm_as_interrupt()
    outcome = run_demo(defects=frozenset(defect or ()), quick=quick, suites=suite, level=level,
                       console=console)
    raise typer.Exit(outcome.exit_code)


@app.command(epilog=epilog("init"))
@user_errors
def init(path: Annotated[Path, typer.Argument(help="Where to write the example.")] = Path(
        "run.yaml"), force: bool = False) -> None:
    """Write a commented example run config."""
    from harness.runner import EXAMPLE_CONFIG

    if path.exists() and not force:
        raise PopcertError(f"{path} exists; use --force to overwrite it")
    path.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    typer.echo(f"wrote {path}: edit system, target and paths, then `popcert certify -c {path}`")


@app.command("checks", epilog=epilog("checks"))
@user_errors
def list_checks(
    coverage: Annotated[bool, typer.Option(
        help="Show each check's defect switch and which catalogue requirements checks enforce."
    )] = False,
    profile: Annotated[str, typer.Option(help="Profile deciding which are mandatory.")] =
        "province",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    where: Annotated[str | None, typer.Option(
        "--where", metavar="ID", help="Print the check's code, tests and defect switch paths.",
    )] = None,
    spec_coverage: Annotated[bool, typer.Option(
        "--spec-coverage", help="Per spec: documented responses exercised, obligations enforced, "
        "attested or untestable, and what is unmapped (exit 1 unless unmapped 0).",
    )] = False,
) -> None:
    """List every registered check: id, suite, severity, requirements."""
    from harness.checklist import print_checks, print_spec_coverage, print_where

    if where:
        raise typer.Exit(print_where(where))
    if spec_coverage:
        raise typer.Exit(print_spec_coverage())
    raise typer.Exit(print_checks(profile, coverage=coverage, as_json=as_json))


@app.command(epilog=epilog("report"))
@user_errors
def report(run_dir: Annotated[Path, typer.Argument(help="A run folder with results.jsonl.")],
           ) -> None:
    """Rebuild a run's report from results.jsonl (e.g. after the harness was killed)."""
    from harness.recover import rebuild_report

    files = rebuild_report(run_dir)
    for name, file in files.items():
        typer.echo(f"{name}: {file}")


@mock_app.command("serve", epilog=epilog("mock serve"))
@user_errors
def mock_serve(
    state_dir: Annotated[Path, typer.Option(help="PKI, clients.yaml, audit log.")] = Path(
        ".popcert/npdb"),
    population: int = 1_000_000, seed: int = 6, data_port: int = 8443, admin_port: int = 8444,
    mtls: Annotated[str, typer.Option(metavar="MODE", help="off, optional or required")] = "optional",
    trust_ca: Annotated[list[Path] | None, typer.Option(
        "--trust-ca", metavar="PEM", help="The SUT's server CA (PEM), trusted for notification deliveries; "
        "repeatable. Also settable later with the admin API's /admin/trust.")] = None,
) -> None:
    """Serve the mock NPDB in the foreground (for a vendor's own SUT to call)."""
    from popcert_npdb.server import MtlsMode, serve

    modes: tuple[MtlsMode, ...] = get_args(MtlsMode)
    mode = next((known for known in modes if known == mtls), None)
    if mode is None:
        raise PopcertError(f"--mtls {mtls!r} is not a mode: use off, optional or required")
    serve(state_dir=state_dir, population=population, seed=seed, data_port=data_port,
          admin_port=admin_port, mtls=mode, ready_file=state_dir / "ready.json",
          trust_ca=list(trust_ca or []))


def _register_mock_commands() -> None:
    from harness.commands.mock_credentials import credential

    mock_app.command("credential", epilog=epilog("mock credential"))(credential)


_register_mock_commands()


def _register_report_commands() -> None:
    from harness.commands import reports as commands

    keys_app.command("new", epilog=epilog("keys new"))(commands.keys_new)
    keys_app.command("trust", epilog=epilog("keys trust"))(commands.keys_trust)
    keys_app.command("list", epilog=epilog("keys list"))(commands.keys_list)
    app.command("sign", epilog=epilog("sign"))(commands.sign)
    app.command("verify", epilog=epilog("verify"))(commands.verify)
    app.command("diff", epilog=epilog("diff"))(commands.diff)


_register_report_commands()


def _register_certificate_commands() -> None:
    from harness.commands.certificates import certificate_app, registry_app

    app.add_typer(certificate_app, name="certificate")
    app.add_typer(registry_app, name="registry")


_register_certificate_commands()


def main() -> None:  # pragma: no cover - console entry
    app()


load_app = typer.Typer(help="Load-testing tools for vendors.", no_args_is_help=True)
app.add_typer(load_app, name="load")


@load_app.command("capacity", epilog=epilog("load capacity"))
@user_errors
def load_capacity(
    config: Annotated[Path, typer.Option("--config", "-c", help="The run config (run.yaml).")],
    start_rps: float = 10.0, factor: float = 1.5, max_rps: float = 2000.0,
    step_duration_s: float = 10.0, max_steps: int = 10, workers: int = 0,
) -> None:
    """Ramp the request rate until a profile threshold breaks; print the sustainable rate."""
    from harness.commands.capacity import run_capacity_search

    _sigterm_as_interrupt()  # locust children stopped and plan files (tokens) deleted on SIGTERM
    raise typer.Exit(run_capacity_search(config, start_rps=start_rps, factor=factor,
                                         max_rps=max_rps, step_duration_s=step_duration_s,
                                         max_steps=max_steps, workers=workers))


@load_app.command("worker", epilog=epilog("load worker"))
@user_errors
def load_worker(
    master: Annotated[str, typer.Option(help="The load master's HOST:PORT (printed by the "
                                             "certify run, also in its load/join.json).")],
    join: Annotated[str, typer.Option(envvar="POPCERT_LOAD_JOIN", help="The run's join code "
                                      "(better from the POPCERT_LOAD_JOIN environment variable "
                                      "than on a command line others can read).")],
) -> None:
    """Join a distributed load run from this host: the plan comes from the master."""
    from harness.suites.load.runner import worker_on_another_host

    _sigterm_as_interrupt()
    try:
        code = worker_on_another_host(master, join)
    except ValueError as bad:
        raise typer.BadParameter(str(bad), param_hint="--master") from None
    raise typer.Exit(code)
