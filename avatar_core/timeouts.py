"""How long HTTP waits by default, for clients made without Settings at hand; Settings'
AVATAR_HTTP_TIMEOUT and AVATAR_CREATE_TIMEOUT start from these. Imports nothing, so the
provider's client and the downloads below it use them without importing the settings
(which know the providers)."""

DEFAULT_HTTP_TIMEOUT_S = 30.0  # for HTTP clients made without Settings at hand
DEFAULT_CREATE_TIMEOUT_S = 120.0  # a create carries megabytes of base64
