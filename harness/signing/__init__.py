"""Ed25519 keys and signatures, the assessor trust store and canonical JSON bytes.

Used by report signing (harness.report.sign) and by certificates alike; imports nothing of
popcert's but harness.errors.
"""
