"""The popcert command line (console script ``popcert = harness.commands.main:app``).

``main`` is the typer app and the run commands; ``reports`` (keys, sign, verify, diff),
``certificates`` (certificate, registry) and ``capacity`` (load capacity) hold the others.
Every command goes through one error decorator and one set of exit codes (``errors``).
"""
