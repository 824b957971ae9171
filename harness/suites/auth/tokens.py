"""AUTH checks of the bearer token: missing, malformed, expired, foreign, unsigned, confused or
self-keyed tokens are refused (connection/v1 §security: a JWT of the national token service,
ES256, JWKS-pinned). The forgeries are built in ``forge``.
"""

from __future__ import annotations

import time

from harness.checks import CheckResult, Evidence, Severity, check
from harness.suites.auth import forge
from harness.suites.auth.attacker import AttackerKeyServer, self_signed_pem
from harness.suites.auth.context import AuthContext
from harness.suites.auth.probe import DOSSIERS_PATH, REFUSED, expect_refused, send_until_error

# How long the SUT may take to fetch a jku/x5u URL after the request (e.g. a background fetch).
JKU_GRACE_S = 0.5


def _refuse_tokens(ctx: AuthContext, tokens: list[forge.ForgedToken], *, what: str,
                   accepted_means: str, refused: frozenset[int] = REFUSED) -> CheckResult:
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    probes = send_until_error([(t.description, t.token) for t in tokens], ctx.read)
    return expect_refused(probes, what=what, accepted_means=accepted_means, refused=refused)


@check("AUTH-TOKEN-MISSING", severity=Severity.CRITICAL,
       requirements=["CONN-SEC-JWT", "CONN-SEC-TOKEN-REQUIRED"], defect="auth.no_token_accepted")
def token_missing(ctx: AuthContext) -> CheckResult:
    """A request without a bearer token is refused with 401 on every bearer-token operation.

    listDossiers, getDossier (an existing dossier) and createDossier (a valid submission); the
    webhook is signed, not bearer: AUTH-NOTIFY-*."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    probes = [ctx.read("GET /dossiers with no Authorization header", None)]
    own_id, _ = ctx.own_dossier()
    if own_id is not None:
        probes.append(ctx.read("GET /dossiers/{dossier_id} of an existing dossier with no "
                               "Authorization header", None, path=f"{DOSSIERS_PATH}/{own_id}"))
    probes.append(ctx.post("POST /dossiers (a valid dossier) with no Authorization header", None,
                           ctx.dossier_body(60)))
    return expect_refused(probes, what="request without a token",
                          accepted_means="served to an anonymous caller",
                          refused=frozenset({401}))


@check("AUTH-TOKEN-MALFORMED", severity=Severity.HIGH,
       requirements=["CONN-SEC-JWT", "RFC6750-INVALID-TOKEN"], defect="auth.malformed_token_500")
def token_malformed(ctx: AuthContext) -> CheckResult:
    """Garbage bearer tokens are refused with 401, never a 5xx."""
    return _refuse_tokens(ctx, forge.garbage_tokens(), what="tokens that are not JWTs",
                          accepted_means="accepted", refused=frozenset({401}))


@check("AUTH-JWT-EXPIRED", severity=Severity.CRITICAL,
       requirements=["CONN-SEC-JWT", "CONN-SEC-JWT-LIFETIME", "RFC7519-EXP"],
       defect="auth.exp_not_checked")
def jwt_expired(ctx: AuthContext) -> CheckResult:
    """A genuinely signed token that expired 10 minutes ago is refused."""
    now = forge.now()
    token = ctx.token(exp=now - 600, iat=now - 900, nbf=now - 900)
    return _refuse_tokens(ctx, [forge.ForgedToken(token, "token expired 10 minutes ago")],
                          what="expired token", accepted_means="accepted")


@check("AUTH-JWT-NOT-YET-VALID", severity=Severity.HIGH,
       requirements=["CONN-SEC-JWT", "CONN-SEC-JWT-LIFETIME", "RFC7519-NBF"],
       defect="auth.nbf_not_checked")
def jwt_not_yet_valid(ctx: AuthContext) -> CheckResult:
    """A genuinely signed token valid only from 10 minutes from now is refused."""
    now = forge.now()
    token = ctx.token(nbf=now + 600, iat=now, exp=now + 900)
    return _refuse_tokens(ctx, [forge.ForgedToken(token, "token with nbf 10 minutes ahead")],
                          what="token not yet valid", accepted_means="accepted")


@check("AUTH-JWT-ISSUER", severity=Severity.CRITICAL,
       requirements=["CONN-SEC-JWT", "CONN-SEC-JWT-ISS"], defect="auth.iss_not_checked")
def jwt_issuer(ctx: AuthContext) -> CheckResult:
    """A token naming another issuer is refused."""
    tokens = [forge.ForgedToken(ctx.token(iss="https://id.attacker.test"),
                                "token with iss https://id.attacker.test"),
              forge.ForgedToken(ctx.token(iss=None), "token without iss")]
    return _refuse_tokens(ctx, tokens, what="token from another issuer", accepted_means="accepted")


@check("AUTH-JWT-AUDIENCE", severity=Severity.CRITICAL,
       requirements=["CONN-SEC-JWT", "CONN-SEC-JWT-AUD", "RFC7519-AUD"],
       defect="auth.aud_not_checked")
def jwt_audience(ctx: AuthContext) -> CheckResult:
    """A token issued for another audience (the NPDB's) is refused."""
    tokens = [forge.ForgedToken(ctx.token(aud="npdb"), "token with aud npdb (meant for the NPDB)"),
              forge.ForgedToken(ctx.token(aud=None), "token without aud")]
    return _refuse_tokens(ctx, tokens, what="token for another audience", accepted_means="accepted")


@check("AUTH-JWT-ALG-NONE", severity=Severity.CRITICAL,
       requirements=["CONN-SEC-JWT", "CONN-SEC-JWT-SIGNATURE", "RFC7518-ALG-NONE"],
       defect="auth.alg_none_accepted")
def jwt_alg_none(ctx: AuthContext) -> CheckResult:
    """An unsigned token (alg none, any letter case) is refused."""
    claims = ctx.claims()
    tokens = [forge.ForgedToken(forge.unsigned({"kid": ctx.kid}, claims, alg),
                                f"token with alg {alg}") for alg in ("none", "None", "NONE")]
    return _refuse_tokens(ctx, tokens, what="unsigned token", accepted_means="accepted")


@check("AUTH-JWT-KEY-CONFUSION", severity=Severity.CRITICAL,
       requirements=["CONN-SEC-JWT", "CONN-SEC-JWT-SIGNATURE", "RFC8725-ALG-VERIFY"],
       defect="auth.hs256_key_confusion")
def jwt_key_confusion(ctx: AuthContext) -> CheckResult:
    """An HS256 token keyed with the issuer's public key (PEM, DER, JWK) is refused."""
    claims = ctx.claims()
    tokens = []
    for jwk in ctx.jwks().get("keys", []):
        for name, secret in forge.confusion_secrets(jwk):
            header = {"kid": jwk.get("kid", "")}
            tokens.append(forge.ForgedToken(forge.hs256(header, claims, secret),
                                            f"HS256 token signed with the {name} as secret"))
    if not tokens:
        return CheckResult.errored("the token service's JWKS has no keys to confuse")
    return _refuse_tokens(ctx, tokens, what="HS256/public-key confusion",
                          accepted_means="accepted")


@check("AUTH-JWT-UNKNOWN-KEY", severity=Severity.CRITICAL,
       requirements=["CONN-SEC-JWT", "CONN-SEC-JWT-SIGNATURE", "NPDB-JWKS"],
       defect="auth.unknown_key_accepted")
def jwt_unknown_key(ctx: AuthContext) -> CheckResult:
    """A well-formed ES256 token signed by a key absent from the JWKS is refused."""
    key = forge.new_attacker_key()
    kid = forge.attacker_kid()
    tokens = [forge.ForgedToken(forge.es256({"kid": kid}, ctx.claims(), key),
                                f"ES256 token signed by an unknown key (kid {kid})"),
              forge.ForgedToken(forge.es256({"kid": ctx.kid}, ctx.claims(), key),
                                "ES256 token signed by another key under the genuine kid")]
    return _refuse_tokens(ctx, tokens, what="token signed by an unknown key",
                          accepted_means="accepted")


@check("AUTH-JWT-JKU", severity=Severity.CRITICAL,
       requirements=["CONN-SEC-JWT", "CONN-SEC-JWT-SIGNATURE", "RFC8725-JKU"],
       defect="auth.jku_followed")
def jwt_jku(ctx: AuthContext) -> CheckResult:
    """Tokens whose jku / x5u header points to an attacker's key server are refused, unfetched."""
    if (problem := ctx.baseline_problem()) is not None:
        return problem
    key = forge.new_attacker_key()
    kid = forge.attacker_kid()
    jwks = {"keys": [forge.attacker_jwk(key, kid)]}
    with AttackerKeyServer(jwks, self_signed_pem(key, "id.npdb.test")) as attacker:
        jwks_url, x5u_url = attacker.jwks_url, attacker.x5u_url
        tokens = [
            forge.ForgedToken(forge.es256({"kid": kid, "jku": jwks_url}, ctx.claims(), key),
                              f"token with jku {jwks_url} (attacker JWKS)"),
            forge.ForgedToken(forge.es256({"kid": kid, "x5u": x5u_url}, ctx.claims(), key),
                              f"token with x5u {x5u_url} (attacker certificate)")]
        probes = send_until_error([(t.description, t.token) for t in tokens], ctx.read)
        time.sleep(JKU_GRACE_S)
        fetches = attacker.recorded()
    result = expect_refused(probes, what="token naming its own key source",
                            accepted_means="accepted")
    if fetches and result.status != "fail":
        fetched = Evidence.note("; ".join(f"{f.method} {f.path} from {f.client}" for f in fetches),
                                title="requests the SUT made to the attacker's key server")
        return CheckResult.failed(
            f"the SUT fetched keys from a URL named in the token ({len(fetches)} request(s) to "
            f"the attacker's server), although it refused the token",
            fetched, *[e for p in probes for e in p.evidence()], fetches=len(fetches))
    if fetches:
        return CheckResult(result.status, result.summary + f"; it also fetched the attacker's "
                           f"key server {len(fetches)} time(s)", result.evidence,
                           {**result.measurements, "fetches": len(fetches)})
    return result


@check("AUTH-JWT-STRIPPED-SIGNATURE", severity=Severity.CRITICAL,
       requirements=["CONN-SEC-JWT", "CONN-SEC-JWT-SIGNATURE", "RFC7515-SIG-VALIDATE"],
       defect="auth.stripped_signature_accepted")
def jwt_stripped_signature(ctx: AuthContext) -> CheckResult:
    """A genuine token with its signature segment removed is refused."""
    token = forge.ForgedToken(forge.stripped(ctx.token()), "genuine token with the signature removed")
    return _refuse_tokens(ctx, [token], what="token without signature", accepted_means="accepted")
