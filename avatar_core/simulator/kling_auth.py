"""Kling's own authentication, as the simulator checks it: a JWT signed HS256 with the
secret key, whose `iss` is the access key, `exp` not passed and `nbf` not to come (within
a small leeway). Each way a token can be wrong gets Kling's code (HTTP 401):

| token | code |
|---|---|
| no `Authorization` header, or no token after `Bearer` | 1001 (header empty) |
| not `Bearer`, not a JWT, not HS256, `exp`/`nbf`/`iss` missing | 1002 (invalid) |
| `iss` another access key, or a wrong signature | 1000 (authentication failed) |
| `nbf` in the future | 1003 (not yet valid) |
| `exp` passed | 1004 (expired) |
"""

from __future__ import annotations

from avatar_core.simulator.accounts import bearer_key
from avatar_core.simulator.wire import WireError

LEEWAY_S = 10  # seconds of clock difference forgiven on exp and nbf


def verify_token(authorization: str | None, access_key: str, secret_key: str) -> str:
    """The access key the token was signed for; raises WireError (1000-1004) otherwise."""
    import jwt  # here, not at the top: with the cryptography it loads, 0.2 s of every start

    token = bearer_key(authorization)  # 1001 / 1002 for a missing or odd header
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise WireError(1002, "Authorization is invalid: the token is not a JWT") from None
    if header.get("alg") != "HS256":
        raise WireError(1002, "Authorization is invalid: the token must be signed HS256")
    if claims.get("iss") != access_key:
        raise WireError(1000, "Authentication failed: unknown access key")
    try:
        jwt.decode(
            token,
            secret_key,
            algorithms=["HS256"],
            issuer=access_key,
            leeway=LEEWAY_S,
            options={"require": ["exp", "nbf", "iss"]},
        )
    except jwt.InvalidSignatureError:
        raise WireError(1000, "Authentication failed: the token's signature is wrong") from None
    except jwt.ExpiredSignatureError:
        raise WireError(1004, "Authorization is expired: sign a new token") from None
    except jwt.ImmatureSignatureError:
        raise WireError(1003, "Authorization is not yet valid: check the token's nbf") from None
    except jwt.PyJWTError:
        raise WireError(1002, "Authorization is invalid: exp, nbf and iss are required") from None
    return access_key
