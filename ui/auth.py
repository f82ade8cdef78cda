"""The chat window's optional login: accounts checked against salted scrypt hashes.

Gradio's own login page asks for a name and a password and calls
:meth:`Accounts.check`; with no account configured there is no login (the
default, for a window bound to this machine only). Accounts come from

* a **password file** (``[ui] password_file``), one ``NAME:HASH`` line per
  person, written by ``ragqa passwd NAME`` (:func:`set_password`); and/or
* one account from the **environment**, ``RAGQA_UI__LOGIN=NAME:PASSWORD``
  (or ``NAME:HASH``, so that the password itself need not sit in a
  container's environment).

A hash is ``scrypt$N$r$p$SALT$KEY`` (base64 salt and key; :func:`hash_password`).
Passwords are never stored, printed or logged, and are compared through
scrypt and :func:`hmac.compare_digest` only. An unknown name costs the same
scrypt run as a known one, so timing does not tell which names exist. One
check runs at a time, off the event loop, so a flood of login attempts costs
one scrypt's memory and one core, and never stalls answers being streamed.

Concessions: Gradio keeps sessions in memory (a restart logs everyone out)
and does not slow down repeated failures; the login travels in clear over
plain HTTP, so beyond a trusted network put a TLS proxy in front.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from corpus.errors import ConfigError
from ui.config import UiConfig

SCHEME = "scrypt"
# RFC 7914's interactive-login cost: 16 MiB and some tens of milliseconds per check.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_MAX_MEMORY = 256 * 1024 * 1024  # a hash asking for more than this is refused, not run
_SALT_BYTES, _KEY_BYTES = 16, 32
_NAME_FORBIDDEN = frozenset(":\n\r")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt_memory(n: int, r: int, p: int) -> int:
    """The bytes scrypt needs for these parameters (its V array and B blocks)."""
    return 128 * r * (n + 2) + 128 * r * p


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=_MAX_MEMORY + 2**20
    )


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A salted scrypt hash of ``password``, as stored in the password file.

    >>> encoded = hash_password("correct horse", salt=bytes(16))
    >>> encoded.split("$")[:4]
    ['scrypt', '16384', '8', '1']
    >>> verify_password("correct horse", encoded), verify_password("wrong", encoded)
    (True, False)
    """
    if not password:
        raise ConfigError("The password is empty: choose a password.")
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, _KEY_BYTES)
    return f"{SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


@dataclass(frozen=True)
class _Hash:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes = field(repr=False)

    @classmethod
    def parse(cls, encoded: str) -> _Hash:
        """Raises ValueError (without the hash in the message) when malformed."""
        parts = encoded.strip().split("$")
        if len(parts) != 6 or parts[0] != SCHEME:
            raise ValueError(f"not a {SCHEME}$N$r$p$SALT$KEY hash")
        try:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            salt = base64.b64decode(parts[4], validate=True)
            key = base64.b64decode(parts[5], validate=True)
        except (ValueError, binascii.Error):
            raise ValueError("a hash field is not a number or not base64") from None
        if n < 2 or n & (n - 1) or r < 1 or p < 1 or _scrypt_memory(n, r, p) > _MAX_MEMORY:
            raise ValueError("scrypt parameters out of range (N a power of 2, at most 256 MiB)")
        if len(salt) < 8 or len(key) < 16:
            raise ValueError("salt or key too short")
        return cls(n, r, p, salt, key)


def is_hash(text: str) -> bool:
    """Whether ``text`` reads as a hash this module wrote (rather than a password)."""
    try:
        _Hash.parse(text)
    except ValueError:
        return False
    return True


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches the ``encoded`` hash; False for a malformed hash."""
    try:
        stored = _Hash.parse(encoded)
    except ValueError:
        return False
    key = _scrypt(password, stored.salt, stored.n, stored.r, stored.p, len(stored.key))
    return hmac.compare_digest(key, stored.key)


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or any(ch in _NAME_FORBIDDEN for ch in name):
        raise ConfigError(
            f"The user name {name!r} cannot be used: it must be non-empty, without ':' or line breaks."
        )
    return name


def read_password_file(path: Path) -> dict[str, str]:
    """The ``NAME: HASH`` accounts of a password file; blank lines and ``#`` comments are skipped.

    A malformed line is an error naming the file and the line number (never
    its content, which may be a password pasted by mistake).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"Cannot read the password file {path}: {error}") from error
    accounts: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, encoded = line.partition(":")
        try:
            if not sep or not name.strip():
                raise ValueError("expected NAME:HASH")
            _Hash.parse(encoded)
        except ValueError as error:
            raise ConfigError(
                f"{path}, line {number}: {error}. Write accounts with `ragqa passwd NAME`."
            ) from None
        accounts[name.strip()] = encoded.strip()
    return accounts


def set_password(path: Path, name: str, password: str) -> bool:
    """Add or replace ``name``'s account in the password file (created 0600).

    Returns True when the name was new. The file is replaced atomically, so a
    crash leaves the old file or the new one, never half of one.
    """
    name = _check_name(name)
    accounts = read_password_file(path) if path.exists() else {}
    new = name not in accounts
    accounts[name] = hash_password(password)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write("# ragqa chat window accounts: NAME:scrypt hash (ragqa passwd NAME)\n")
            handle.writelines(f"{n}:{h}\n" for n, h in accounts.items())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return new


@dataclass(frozen=True)
class Accounts:
    """Names and their password hashes; ``check`` is what Gradio's login calls."""

    hashes: Mapping[str, str] = field(repr=False)
    _one_at_a_time: threading.Lock = field(
        default_factory=threading.Lock, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not self.hashes:
            raise ConfigError("Accounts need at least one NAME:HASH entry.")

    @property
    def names(self) -> list[str]:
        return sorted(self.hashes)

    def check_now(self, name: str, password: str) -> bool:
        """Whether ``name`` and ``password`` match an account (blocking; runs scrypt)."""
        encoded = self.hashes.get(name.strip())
        with self._one_at_a_time:
            # An unknown name runs scrypt too, against a hash of nothing in particular.
            matches = verify_password(password, encoded or _decoy())
        return matches and encoded is not None

    async def check(self, name: str, password: str) -> bool:
        """Gradio's ``auth`` callable: the check, in a worker thread."""
        return await anyio.to_thread.run_sync(self.check_now, name, password)


@functools.cache
def _decoy() -> str:
    return hash_password(secrets.token_urlsafe(16))


def accounts_from(config: UiConfig) -> Accounts | None:
    """The accounts the settings name, or None when no login is configured."""
    hashes: dict[str, str] = {}
    if config.password_file:
        path = Path(config.password_file).expanduser()
        hashes.update(read_password_file(path))
        if not hashes:
            # A named file without accounts must not quietly mean "no login".
            raise ConfigError(
                f"The password file {path} has no accounts. Add one with `ragqa passwd NAME`."
            )
    if config.login:
        name, _, secret = config.login.partition(":")
        hashes[_check_name(name)] = secret if is_hash(secret) else hash_password(secret)
    return Accounts(hashes) if hashes else None
