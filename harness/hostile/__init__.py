"""The hostile-SUT rules every HTTP client popcert drives shares (docs/security-model.md).

``limits`` (the numbers), ``decode`` (the one table of bounded content decoders and its policy) and
``deadline`` (total deadlines, and the watchdog that ends a TLS handshake stuck inside OpenSSL).
Standard library (+ brotli) only: the schemathesis child and the locust workers import it beside
their thin adapter (conformance/guard.py, load/body.py); harness/net.py is the httpx adapter.
"""
