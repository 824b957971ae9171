"""The reference city system, imported as ``popcert_city`` (this folder, mapped by setup.py)."""

# One module, one name: a checkout on sys.path must not load this folder a second time as
# ``examples.city_system`` (two copies of every class and defect table).
if __name__ != "popcert_city":
    raise ImportError(f"import the reference city system as popcert_city, not as {__name__}")
