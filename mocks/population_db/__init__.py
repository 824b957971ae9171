"""The mock NPDB, imported as ``popcert_npdb`` (this folder, mapped by setup.py's package_dir)."""

# One module, one name: a checkout on sys.path must not load this folder a second time as
# ``mocks.population_db`` (two copies of every class and registry).
if __name__ != "popcert_npdb":
    raise ImportError(f"import the mock NPDB as popcert_npdb, not as {__name__}")
