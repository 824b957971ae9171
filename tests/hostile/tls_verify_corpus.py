"""Ways to write a TLS verification setting (issue 24, item 3): forms that turn it off or leave it
unproven, which SAST-TLS-VERIFY must report, and compliant forms it must leave alone.

Shared by tests/unit/test_tls_rule_corpus.py (the rule, form by form), tests/hostile/ (a vendor
tree made of all of them) and bench/hostile.py. Each disabling form is ``name -> (code, rule)``;
the code is self-contained enough to parse, not to run.
"""

from __future__ import annotations

# The 10 forms issue 24 names first (bandit and the old deny-list rule both missed them), then others.
DISABLING: dict[str, tuple[str, str]] = {
    "verify-empty-string": ("requests.get(url, verify='')", "tls-verify-disabled"),
    "verify-empty-list": ("requests.get(url, verify=[])", "tls-verify-disabled"),
    "verify-not-true": ("requests.get(url, verify=not True)", "tls-verify-disabled"),
    "verify-bool-0": ("requests.get(url, verify=bool(0))", "tls-verify-disabled"),
    "name-bound-to-false": ("CHECK = 0\nsession.get(url, verify=CHECK)", "tls-verify-disabled"),
    "setattr-verify": ("setattr(session, 'verify', False)", "tls-verify-disabled"),
    "partial-built-keyword": ("fetch = functools.partial(requests.get, **{'ver' + 'ify': False})",
                              "tls-verify-disabled"),
    "poolmanager-cert-reqs-0": ("pool = urllib3.PoolManager(cert_reqs=0)", "tls-cert-none"),
    "verify-mode-enum-0": ("context.verify_mode = ssl.VerifyMode(0)", "tls-cert-none"),
    "curl-ca-bundle-empty": ("os.environ['CURL_CA_BUNDLE'] = ''", "tls-env-disabled"),
    # --- beyond the list
    "verify-false": ("session.post(url, json=body, verify=False)", "tls-verify-disabled"),
    "verify-zero": ("requests.get(url, verify=0)", "tls-verify-disabled"),
    "verify-none": ("httpx.get(url, verify=None)", "tls-verify-unproven"),
    "verify-empty-fstring": ("requests.get(url, verify=f'')", "tls-verify-disabled"),
    "verify-and-false": ("requests.get(url, verify=True and False)", "tls-verify-disabled"),
    "verify-compare": ("requests.get(url, verify=1 == 2)", "tls-verify-disabled"),
    "verify-from-environment": ("requests.get(url, verify=os.getenv('VERIFY') == '1')",
                                "tls-verify-unproven"),
    "verify-parameter": ("def fetch(url, check):\n    return requests.get(url, verify=check)",
                         "tls-verify-unproven"),
    "verify-default-off": ("def fetch(url, verify=False):\n    return url", "tls-verify-disabled"),
    "name-bound-twice": (("CHECK = '/etc/ca.pem'\nif debug:\n    CHECK = ''\n"
                          "requests.get(url, verify=CHECK)"), "tls-verify-disabled"),
    "attribute-of-a-class": (("class Settings:\n    tls_check = ()\n"
                              "requests.get(url, verify=Settings.tls_check)"),
                             "tls-verify-disabled"),
    "function-returning-false": (("def check():\n    return False\n"
                                  "requests.get(url, verify=check())"), "tls-verify-disabled"),
    "httpx-client": ("client = httpx.Client(verify=False)", "tls-verify-disabled"),
    "aiohttp-ssl-false": ("connector = aiohttp.TCPConnector(ssl=False)", "tls-verify-disabled"),
    "aiohttp-verify-ssl": ("connector = aiohttp.TCPConnector(verify_ssl=False)",
                           "tls-verify-disabled"),
    "session-attribute": ("session.verify = False", "tls-verify-disabled"),
    "session-attribute-tuple": ("session.verify, timeout = False, 5", "tls-verify-disabled"),
    "session-attribute-dynamic": ("session.verify = options.get('verify')",
                                  "tls-verify-unproven"),
    "dunder-dict": ("session.__dict__['verify'] = False", "tls-verify-disabled"),
    "vars-update": ("vars(session).update(verify=False)", "tls-verify-disabled"),
    "dunder-dict-update": ("session.__dict__.update({'verify': ''})", "tls-verify-disabled"),
    "object-setattr": ("object.__setattr__(session, 'verify', False)", "tls-verify-disabled"),
    "setattr-built-name": ("setattr(context, 'check_' + 'hostname', False)",
                           "tls-hostname-unchecked"),
    "kwargs-dict": ("options = dict(verify=False)\nrequests.get(url, **options)",
                    "tls-verify-disabled"),
    "kwargs-item": ("options['verify'] = False", "tls-verify-disabled"),
    "kwargs-setdefault": ("options.setdefault('verify', False)", "tls-verify-disabled"),
    "unverified-context": ("context = ssl._create_unverified_context()",
                           "tls-unverified-context"),
    "unverified-context-getattr": ("make = getattr(ssl, '_create_' + 'unverified_context')",
                                   "tls-unverified-context"),
    "default-https-context": ("ssl._create_default_https_context = ssl._create_unverified_context",
                              "tls-unverified-context"),
    "sslcontext-no-protocol": ("context = ssl.SSLContext()", "tls-unverified-context"),
    "sslcontext-protocol-tls": ("context = ssl.SSLContext(ssl.PROTOCOL_TLS)",
                                "tls-unverified-context"),
    "wrap-socket": ("wrapped = ssl.wrap_socket(sock)", "tls-unverified-context"),
    "cert-none": ("context.verify_mode = ssl.CERT_NONE", "tls-cert-none"),
    "cert-none-imported": ("from ssl import CERT_NONE as NO_CHECK", "tls-cert-none"),
    "cert-none-getattr": ("context.verify_mode = getattr(ssl, 'CERT_' + 'NONE')",
                          "tls-cert-none"),
    "cert-none-enum-item": ("context.verify_mode = ssl.VerifyMode['CERT_NONE']", "tls-cert-none"),
    "cert-reqs-string": ("pool = urllib3.PoolManager(cert_reqs='CERT_NONE')", "tls-cert-none"),
    "default-context-then-off": (("context = ssl.create_default_context()\n"
                                  "context.check_hostname = False\n"
                                  "context.verify_mode = ssl.CERT_NONE\n"
                                  "client = httpx.Client(verify=context)"), "tls-cert-none"),
    "check-hostname-false": ("context.check_hostname = False", "tls-hostname-unchecked"),
    "assert-hostname-false": ("pool = urllib3.PoolManager(assert_hostname=False)",
                              "tls-hostname-unchecked"),
    "pythonhttpsverify": ("os.environ['PYTHONHTTPSVERIFY'] = '0'", "tls-env-disabled"),
    "requests-ca-bundle-update": ("os.environ.update(REQUESTS_CA_BUNDLE='')", "tls-env-disabled"),
    "curl-ca-bundle-putenv": ("os.putenv('CURL_CA_BUNDLE', '')", "tls-env-disabled"),
    "requests-ca-bundle-setdefault": ("os.environ.setdefault('REQUESTS_CA_BUNDLE', '')",
                                      "tls-env-disabled"),
    "env-of-a-child": ("subprocess.run(command, env={'CURL_CA_BUNDLE': ''})",
                       "tls-env-disabled"),
    "env-merge": ("os.environ |= {'CURL_' + 'CA_BUNDLE': ''}", "tls-env-disabled"),
    "env-setenv": ("monkeypatch.setenv('REQUESTS_CA_BUNDLE', '')", "tls-env-disabled"),
    "git-ssl-no-verify": ("os.environ['GIT_SSL_NO_VERIFY'] = '1'", "tls-env-disabled"),
    "node-reject-unauthorized": ("env = {'NODE_TLS_REJECT_UNAUTHORIZED': '0'}",
                                 "tls-env-disabled"),
}

# Forms that keep verification on: never a failing finding.
COMPLIANT: dict[str, str] = {
    "verify-true": "requests.get(url, verify=True)",
    "verify-ca-path": "requests.get(url, verify='/etc/popcert/ca.pem', timeout=5)",
    "verify-name-ca-constant": "CA_BUNDLE = '/etc/popcert/ca.pem'\n"
                               "requests.get(url, verify=CA_BUNDLE)",
    "verify-attribute-ca-constant": "class Settings:\n    ca_bundle = '/etc/popcert/ca.pem'\n"
                                    "requests.get(url, verify=Settings.ca_bundle)",
    "verify-certifi": "requests.get(url, verify=certifi.where())",
    "verify-path-object": "requests.get(url, verify=str(Path('/etc/popcert', 'ca.pem')))",
    "verify-os-path-join": "requests.get(url, verify=os.path.join('/etc/popcert', 'ca.pem'))",
    "verify-either-ca": "CA = '/etc/ca.pem'\nrequests.get(url, verify=CA if CA else True)",
    "verify-default-context": "context = ssl.create_default_context(cafile='/etc/ca.pem')\n"
                              "client = httpx.Client(verify=context)",
    "verify-context-from-a-function": "def tls_context(ca):\n"
                                      "    context = ssl.create_default_context(cafile=ca)\n"
                                      "    context.load_cert_chain('c.pem', 'k.pem')\n"
                                      "    return context\n"
                                      "client = httpx.AsyncClient(verify=tls_context(ca))",
    "aiohttp-ssl-context": "connector = aiohttp.TCPConnector("
                           "ssl=ssl.create_default_context(cafile=CA))",
    "session-verify-true": "session.verify = True",
    "cert-required": "context.verify_mode = ssl.CERT_REQUIRED",
    "cert-reqs-required": "pool = urllib3.PoolManager(cert_reqs='CERT_REQUIRED', ca_certs=CA)",
    "verify-mode-enum-2": "context.verify_mode = ssl.VerifyMode(2)",
    "check-hostname-true": "context.check_hostname = True",
    "client-context": "context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)",
    "server-context": "context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
                      "context.verify_mode = ssl.CERT_NONE",
    "server-context-client-auth": "ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)\n"
                                  "ctx.verify_mode = ssl.CERT_NONE",
    "server-context-optional-client-cert": "context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
                                           "context.verify_mode = ssl.CERT_REQUIRED if required "
                                           "else ssl.CERT_OPTIONAL",
    "ca-bundle-env": "os.environ['REQUESTS_CA_BUNDLE'] = '/etc/ssl/certs/ca.pem'",
    "pythonhttpsverify-on": "os.environ['PYTHONHTTPSVERIFY'] = '1'",
    "env-read": "bundle = os.environ.get('CURL_CA_BUNDLE', '')",
    "env-removed": "os.environ.pop('CURL_CA_BUNDLE', None)\ndel os.environ['REQUESTS_CA_BUNDLE']",
    "local-flag": "verify = False  # a local flag named verify, not passed to any call",
    "jwt-options": "options = {'verify_signature': True, 'verify_exp': True}",
    "silenced-warnings-only": "urllib3.disable_warnings()",
}
