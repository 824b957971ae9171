"""The other side of the wire, as the suites reach it: the citizen portal as the SUT's client
(``portal``), the people and dossiers it submits (``dossiers``) and the mock NPDB's handle
(``npdb_boundary``). Nothing here imports a suite or the run engine.
"""
