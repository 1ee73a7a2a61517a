"""Credentials are never shown: the one scrubber every message, log record and written file goes through.

Secrets (API tokens, passwords, account e-mails) only ever come from the
environment (:data:`SECRET_ENV_VARS`, and any variable named like a credential,
``*_PASSWORD``, ``*_TOKEN``, ``*_SECRET``, ``*_KEY``) or are learnt at run time
(an OAuth token a server returned: :func:`register_secret`). :func:`redact`
replaces each of them, in every spelling a server, a URL or a repr might give
it (as is, URL-encoded, JSON- or repr-escaped, HTML-escaped, any letter case),
with ``***``.

:class:`~forecast.errors.ForecastError` passes every message through
:func:`redact`, so no error the package raises can carry a credential,
whatever file or server text it quotes; the download module also scrubs its
log records and every cell it writes.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import urllib.parse
from collections.abc import Callable, Iterable

__all__ = ["REDACTED", "SECRET_ENV_VARS", "redact", "redactor", "register_secret", "secret_values"]

#: Environment variables whose values are credentials, whatever their length (at least 4 characters).
SECRET_ENV_VARS: tuple[str, ...] = (
    "ACLED_EMAIL",
    "ACLED_PASSWORD",
    "ACLED_ACCESS_TOKEN",
    "ACLED_KEY",
    "ACLED_API_KEY",
    "UCDP_ACCESS_TOKEN",
)

#: Other variables named like credentials (``GITHUB_TOKEN``, ``DB_PASSWORD``): their
#: values are secrets too when at least :data:`_MIN_GUESSED_LENGTH` long.
_CREDENTIAL_NAME = re.compile(r"(PASSWORD|PASSWD|TOKEN|SECRET|(^|_)KEY|APIKEY|CREDENTIALS?)$", re.IGNORECASE)

#: Placeholder written where a secret was.
REDACTED = "***"

# Shorter values would turn ordinary words into asterisks and protect nothing.
_MIN_SECRET_LENGTH = 4
# A variable merely named like a credential may hold "1" or "true": only longer values count.
_MIN_GUESSED_LENGTH = 8

# Secrets learnt at run time (an OAuth access token returned by a server).
_runtime_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Treat ``value`` as a secret from now on: :func:`redact` will scrub it.

    Used for credentials that do not come from the environment, such as an
    access token returned by an OAuth server.
    """
    if isinstance(value, str) and len(value.strip()) >= _MIN_SECRET_LENGTH:
        _runtime_secrets.add(value.strip())


def secret_values() -> set[str]:
    """Every credential value known now: the named variables, credential-like variables, run-time secrets."""
    values = set(_runtime_secrets)
    for name, value in os.environ.items():
        value = value.strip()
        if name in SECRET_ENV_VARS:
            if len(value) >= _MIN_SECRET_LENGTH:
                values.add(value)
        elif _CREDENTIAL_NAME.search(name) and len(value) >= _MIN_GUESSED_LENGTH:
            values.add(value)
    return values


def _spellings(value: str) -> set[str]:
    """The forms a secret takes in a URL, a form body, JSON, a Python repr or HTML."""
    forms = {
        value,
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote(value),
        urllib.parse.quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
        html.escape(value),
        value.encode("unicode_escape").decode("ascii"),
    }
    return {form for form in forms if len(form) >= _MIN_SECRET_LENGTH}


@functools.lru_cache(maxsize=64)
def _pattern(values: frozenset[str]) -> re.Pattern[str] | None:
    forms: set[str] = set()
    for value in values:
        forms |= _spellings(value)
    if not forms:
        return None
    # Longest first, so a secret containing another is scrubbed whole; any case,
    # since servers lower-case e-mails and percent-escapes come in both cases.
    alternatives = sorted(forms, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, alternatives)), re.IGNORECASE)


def redactor(secrets: Iterable[str] = ()) -> Callable[[str], str]:
    """:func:`redact` with the secrets known now fixed: for scrubbing many cells of a table quickly.

    Examples
    --------
    >>> scrub = redactor(["tok-123456"])
    >>> scrub("echo tok-123456"), scrub("plain")
    ('echo ***', 'plain')
    """
    extra = {s.strip() for s in secrets if isinstance(s, str) and len(s.strip()) >= _MIN_SECRET_LENGTH}
    pattern = _pattern(frozenset(secret_values() | extra))
    if pattern is None:
        return lambda text: text
    return lambda text: pattern.sub(REDACTED, text) if isinstance(text, str) else text


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace every known secret in ``text`` with ``***``.

    Known secrets are :func:`secret_values` and ``secrets`` (values of at least
    4 characters), each in every spelling of :func:`_spellings`, in any case.

    Examples
    --------
    >>> redact("token=abc123 rejected", secrets=["abc123"])
    'token=*** rejected'
    >>> redact("username=me%40example.org&password=p%26ss+word", secrets=["me@example.org", "p&ss word"])
    'username=***&password=***'
    """
    return redactor(secrets)(text)
