"""Certificates an assessor issues from a verified CERTIFIED report, their registry, its signed
hash-chained log and the static registry site (docs/certificate.md)."""
