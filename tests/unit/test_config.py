"""run.yaml loading: a valid file loads; every mistake is one line naming file, field, line and fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.config import ALL_SUITES, REPO_ROOT, config_from_dict, load_config
from harness.errors import ConfigError

EXAMPLE = REPO_ROOT / "examples" / "run.example.yaml"


def write_config(folder: Path, replace: dict[str, str] | None = None, *,
                 drop_line: str | None = None, certs: bool = True) -> Path:
    """The shipped example, edited textually so comments and line numbers stay realistic."""
    folder.mkdir(parents=True, exist_ok=True)
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in (replace or {}).items():
        assert old in text, f"the example no longer contains {old!r}"
        text = text.replace(old, new, 1)
    if drop_line is not None:
        text = "".join(line for line in text.splitlines(keepends=True)
                       if not line.strip().startswith(drop_line))
    if certs:
        (folder / "certs").mkdir(exist_ok=True)
        for name in ("ca.pem", "portal.pem", "portal.key"):
            (folder / "certs" / name).write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    path = folder / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message, "a config error is one line"
    assert message.startswith(f"{path}: "), "a config error starts with the file"
    return caught.value


# --- a valid file -------------------------------------------------------------------------------

def test_example_loads_with_paths_resolved_against_its_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path / "cfg")
    monkeypatch.chdir(tmp_path)  # a different working directory must not matter
    config = load_config(path)
    folder = (tmp_path / "cfg").resolve()
    assert config.system.level == "province" and config.profile_name == "province"
    assert config.target.base_url == "https://127.0.0.1:8443"
    assert config.target.ca_bundle == folder / "certs" / "ca.pem"
    assert config.target.client_key == folder / "certs" / "portal.key"
    assert config.firewall is not None and config.firewall.ruleset == folder / "firewall" / "iptables-save.txt"
    assert config.source is not None and config.source.path == tmp_path.resolve() / "src"
    assert config.assessor.attestations == folder / "attestations.yaml"
    assert config.npdb.state_dir == folder / ".popcert" / "npdb"
    assert config.source_file == path
    assert config.ordered_suites() == list(ALL_SUITES)


def test_overrides_replace_file_values(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path), {"quick": True, "suites": ["tls", "firewall"]})
    assert config.quick is True
    assert config.ordered_suites() == ["firewall", "tls"]  # engine order, not the user's order


def test_config_from_dict_resolves_against_base_dir(tmp_path: Path) -> None:
    config = config_from_dict({"system": {"name": "x", "organisation": "y", "level": "district"},
                               "target": {"base_url": "http://localhost:9"},
                               "output_dir": "out"}, tmp_path)
    assert config.output_dir == tmp_path.resolve() / "out"
    assert config.profile_name == "district"


# --- mistakes a user makes --------------------------------------------------------------------

def test_wrong_type_names_field_line_and_value(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"  timeout_s: 10": '  timeout_s: "fast"'})
    error = load_error(path)
    assert error.field == f"target.timeout_s (line {line_of(path, 'timeout_s:')})"
    assert "'fast'" in error.message


def test_wrong_type_comes_with_a_hint(tmp_path: Path) -> None:
    error = load_error(write_config(tmp_path, {"  timeout_s: 10": '  timeout_s: "fast"'}))
    assert error.hint, "a user needs to be told what to write instead (e.g. a number of seconds)"


def test_out_of_range_value_is_refused(tmp_path: Path) -> None:
    error = load_error(write_config(tmp_path, {"  timeout_s: 10": "  timeout_s: 0"}))
    assert error.field.startswith("target.timeout_s")


def test_unknown_top_level_field(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"seed: 0": "seed: 0\ncolour: red"})
    error = load_error(path)
    assert error.field == f"colour (line {line_of(path, 'colour:')})"
    assert error.message == "unknown field" and "spelling" in error.hint


def test_unknown_nested_field(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"  timeout_s: 10": "  timeout_s: 10\n  verify_tls: false"})
    error = load_error(path)
    assert error.field == f"target.verify_tls (line {line_of(path, 'verify_tls')})"
    assert error.hint


def test_missing_required_field(tmp_path: Path) -> None:
    path = write_config(tmp_path, drop_line="base_url:")
    error = load_error(path)
    assert error.field.startswith("target.base_url (line ")
    assert error.message == "is required" and "popcert init" in error.hint


def test_bad_url(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"base_url: https://127.0.0.1:8443": "base_url: htp://x"})
    error = load_error(path)
    assert error.field == f"target.base_url (line {line_of(path, 'base_url:')})"
    assert "htp://x" in error.message and "http(s)" in error.message
    assert "https://127.0.0.1:8443" in error.hint


def test_bad_url_value_is_quoted_once(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"base_url: https://127.0.0.1:8443": "base_url: htp://x"})
    assert load_error(path).message.count("htp://x") == 1


def test_bad_level(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"level: province": "level: national"})
    error = load_error(path)
    assert error.field == f"system.level (line {line_of(path, 'level: national')})"
    assert "'national'" in error.message
    assert "ministry" in error.hint and "district" in error.hint


def test_unknown_suite_names_the_list_item(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"suites: [firewall, sast,": "suites: [firewall, pentest,"})
    error = load_error(path)
    assert error.field.startswith("suites.1 (line ")
    assert "pentest" in error.message and "firewall" in error.hint


@pytest.mark.parametrize("broken", ["target:\n  base_url: [unclosed\n",
                                    "system:\n  name: 'x\n  level: province\n",
                                    "system:\n\tname: tab\n"])
def test_yaml_syntax_error_gives_the_line(tmp_path: Path, broken: str) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(broken, encoding="utf-8")
    error = load_error(path)
    assert re.fullmatch(r"line \d+", error.field)
    assert "not valid YAML" in error.message and error.hint


def test_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("- firewall\n- tls\n", encoding="utf-8")
    assert "mapping" in load_error(path).message


def test_missing_file(tmp_path: Path) -> None:
    error = load_error(tmp_path / "nope.yaml")
    assert "cannot read" in error.message and "popcert init" in error.hint


def test_out_of_scope_target_host(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"base_url: https://127.0.0.1:8443": "base_url: https://10.20.30.40"})
    error = load_error(path)
    assert error.field == "target.base_url"
    assert "10.20.30.40" in error.message and "scope.allowed_hosts" in error.hint


def test_out_of_scope_openapi_url(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"openapi_url: https://127.0.0.1:8443/openapi.json":
                                   "openapi_url: https://spec.example.org/openapi.json"})
    assert load_error(path).field == "target.openapi_url"


def test_host_in_scope_when_declared(tmp_path: Path) -> None:
    path = write_config(tmp_path, {
        "base_url: https://127.0.0.1:8443": "base_url: https://10.20.30.40",
        "allowed_hosts: [127.0.0.1, localhost]": "allowed_hosts: [127.0.0.1, 10.20.30.0/24]"})
    assert load_config(path).target.base_url == "https://10.20.30.40"


def test_missing_ca_bundle_file(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    (tmp_path / "certs" / "ca.pem").unlink()
    error = load_error(path)
    assert error.field == "target.ca_bundle"
    assert str(tmp_path / "certs" / "ca.pem") in error.message and "PEM" in error.hint


def test_client_cert_without_key(tmp_path: Path) -> None:
    path = write_config(tmp_path, drop_line="client_key:")
    error = load_error(path)
    assert error.field.startswith("target")
    assert "client_cert and client_key" in error.message


def test_config_from_dict_errors_use_the_label(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"system": {"name": "x", "organisation": "y", "level": "city"},
                          "target": {"base_url": "http://127.0.0.1"}}, tmp_path, label="<lab>")
    assert str(caught.value).startswith("<lab>: system.level: ")


def test_openapi_url_may_be_left_out_of_the_file(tmp_path: Path) -> None:
    # The file format keeps it optional: popcert then looks for <base_url>/openapi.json itself.
    path = write_config(tmp_path, drop_line="openapi_url:")
    assert load_config(path).target.openapi_url is None


def test_the_example_says_where_the_published_spec_is_mandatory_as_the_profiles_do() -> None:
    from harness.profiles import load_profile

    comment = " ".join(line.strip().lstrip("# ") for line in EXAMPLE.read_text(
        encoding="utf-8").splitlines() if "openapi" in line.lower() or "NOT CERTIFIED" in line
        or "Advisory at" in line)
    mandatory = re.search(r"Mandatory at ([a-z ,]+?):", comment)
    advisory = re.search(r"Advisory at ([a-z ,]+?)\.", comment)
    assert mandatory and advisory, comment
    levels = {"district", "province", "ministry"}
    said = {level for level in levels if level in mandatory.group(1)}
    assert said == {level for level in levels
                    if load_profile(level).is_mandatory("CONF-SPEC-DRIFT")}
    assert {level for level in levels if level in advisory.group(1)} == levels - said


def test_choosing_scenarios_is_for_quick_runs_only(tmp_path: Path) -> None:
    path = write_config(tmp_path / "full")
    path.write_text(path.read_text(encoding="utf-8") + "scenarios: [birth-registration]\n",
                    encoding="utf-8")
    error = load_error(path)
    assert error.field.startswith("scenarios")
    assert "quick" in error.message and "quick: true" in error.hint
    quick = load_config(path, overrides={"quick": True})
    assert quick.scenarios == ["birth-registration"]


def test_an_unknown_scenario_id_names_the_ids_there_are() -> None:
    from harness.suites.scenario.context import chosen
    from harness.suites.scenario.model import load_all

    scenarios = load_all()
    assert chosen(scenarios, []) == scenarios
    assert [s.id for s in chosen(scenarios, ["marriage-registration", "birth-registration"])] == [
        s.id for s in scenarios if s.id in ("birth-registration", "marriage-registration")]
    with pytest.raises(ValueError, match="no scenario has the id.*nope.*birth-registration"):
        chosen(scenarios, ["nope"])
