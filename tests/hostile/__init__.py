"""Hostile systems under test for popcert's own tests and bench/hostile.py (see servers.py)."""
