"""Every sentence about the choice of provider and Kling's own API, in one place (English),
so that a message catalogue can take them over as they are."""

from __future__ import annotations

HALF_SET = "{given} is set but {missing} is not: set both to use Kling's own API, or neither."
PASTE_RULE = (
    "A Kling key is pasted as ACCESS_KEY:SECRET_KEY (the access key, a colon, the secret "
    "key): paste both parts."
)
BOTH_SET = (
    "KLING_ACCESS_KEY and KLING_SECRET_KEY are ignored: COMETAPI_KEY is set, and CometAPI "
    "comes first (unset COMETAPI_KEY to use Kling's own API)."
)
AUTH_REFUSED = (
    "Kling did not accept the access key and secret key{where}: check KLING_ACCESS_KEY and "
    "KLING_SECRET_KEY (or the pasted ACCESS_KEY:SECRET_KEY), and this machine's clock."
)
ACCOUNT = {
    1100: "Your Kling account has a problem (Kling code 1100: {detail}): see Kling's console.",
    1101: "Your Kling account is in arrears (Kling code 1101): top it up, then try again.",
    1102: "Your Kling resource pack is used up or expired (Kling code 1102): buy more, then "
    "try again.",
}
PROVIDER = "Provider: {label} ({where})"
DEMO_WHERE = "the built-in simulator"
SIMULATOR_NEEDS_KEYS = (
    "--kling-auth needs KLING_ACCESS_KEY and KLING_SECRET_KEY in the environment: set both, "
    "or leave --kling-auth out."
)
