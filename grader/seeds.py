"""Where every generated input comes from: the course's public seed, or a teacher's secret.

A :class:`Seed` holds the public seed (``seed:`` in grader/course.yaml, ``--seed``) and,
for official grades, a secret (``grade --secret-seed-file FILE`` or ``$GRADE_SECRET_SEED``).
Everything the grader generates asks it for a number with :meth:`Seed.derive`, naming
what the number is for (a label such as ``vectors/dot/agrees_with_numpy``):

- **public** (practice): a plain hash of the label and the public seed, the very numbers
  the grader has always used, so anyone with the grader meets the same examples;
- **secret** (official runs): HMAC-SHA256 keyed with the secret, of the label and the
  public seed. Without the secret no one can compute the examples, the timing inputs or
  the MLP's training and held-out data, so a table of answers recorded in advance is
  worth nothing; the same secret always gives the same numbers, hence the same verdicts.

Neither the secret nor anything computed from it reaches the learner's process except the
inputs of the calls themselves, and reports say only which kind of seed was used
(``"seed": "public" | "secret"``). The learner's process is seeded with the public seed
(see :class:`grader.runner.sandbox.LearnerProcess`) in either case.

:func:`independent_examples` makes hypothesis draw the same examples however the grader
was started (see its docstring).
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import stat
import threading
import zlib
from dataclasses import dataclass, field

SECRET_ENV = "GRADE_SECRET_SEED"  # the secret's text, e.g. from a CI secret
MIN_SECRET_BYTES = 16  # shorter secrets get a warning: they could be guessed from the examples
MAX_SECRET_BYTES = 64 * 1024
MAKE_ONE = 'python -c "import secrets; print(secrets.token_hex(32))" > grade-secret.txt'

PUBLIC, SECRET = "public", "secret"


class SecretSeedError(Exception):
    """The secret seed cannot be used: one paragraph for the learner-facing error (exit 2)."""


@dataclass(frozen=True)
class Seed:
    """The public seed and, for official grades, the secret (bytes; never printed)."""

    public: int = 0
    secret: bytes | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.secret is not None and not self.secret:
            raise ValueError("an empty secret is no secret")

    def __repr__(self) -> str:  # never the secret
        return f"Seed(public={self.public}, kind={self.kind!r})"

    __str__ = __repr__

    @property
    def kind(self) -> str:
        """``"public"`` or ``"secret"``: what reports say (never the secret itself)."""
        return PUBLIC if self.secret is None else SECRET

    @property
    def is_secret(self) -> bool:
        return self.secret is not None

    @classmethod
    def of(cls, value: "Seed | int | None") -> "Seed":
        """``value`` as a Seed: a plain int (the older API) is a public seed."""
        if isinstance(value, Seed):
            return value
        return cls(int(value or 0))

    def derive(self, label: str) -> int:
        """A number for ``label`` (what it seeds), a pure function of the label and the seed.

        Public: ``(public * 1000003 + crc32(label)) mod 2³²``, the check seeds the grader has
        always used. Secret: the first 64 bits of HMAC-SHA256(secret, label NUL public).
        """
        if self.secret is None:
            return (self.public * 1_000_003 + zlib.crc32(label.encode("utf-8"))) % (2 ** 32)
        message = f"{label}\x00{self.public}".encode("utf-8")
        return int.from_bytes(hmac.new(self.secret, message, hashlib.sha256).digest()[:8], "big")

    def secret_text(self) -> str | None:
        """The secret as the text of ``$GRADE_SECRET_SEED`` (for ``grade batch``'s children)."""
        return None if self.secret is None else self.secret.decode("utf-8")


# ----------------------------------------------------------------------------- reading a secret

def _from_text(text: str, empty: str) -> bytes:
    secret = text.strip()
    if not secret:
        raise SecretSeedError(f"{empty}, so there is no secret to grade with. Make a secret with: "
                              f"{MAKE_ONE} (keep it out of the class repository).")
    return secret.encode("utf-8")


def read_secret_file(path: str) -> bytes:
    """The secret in ``path`` (surrounding whitespace removed); SecretSeedError in one paragraph."""
    shown = os.fspath(path)
    advice = (f"Give the file that holds the course's secret seed, or make one with: {MAKE_ONE} "
              f"(keep it out of the class repository).")
    try:
        with open(path, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise SecretSeedError(f"--secret-seed-file {shown} is not a regular file. {advice}")
            data = f.read(MAX_SECRET_BYTES + 1)
    except FileNotFoundError:
        raise SecretSeedError(f"--secret-seed-file {shown}: there is no such file. {advice}") from None
    except IsADirectoryError:
        raise SecretSeedError(f"--secret-seed-file {shown} is a folder, not a file. {advice}") from None
    except PermissionError:
        raise SecretSeedError(f"--secret-seed-file {shown} cannot be read (permission denied): run grade "
                              f"as a user that can read it.") from None
    except OSError as e:
        raise SecretSeedError(f"--secret-seed-file {shown} cannot be read ({e.strerror or e}). "
                              f"{advice}") from None
    if len(data) > MAX_SECRET_BYTES:
        raise SecretSeedError(f"--secret-seed-file {shown} is larger than {MAX_SECRET_BYTES // 1024} KiB, so "
                              f"it is not a secret seed file. {advice}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretSeedError(f"--secret-seed-file {shown} is not text (UTF-8). {advice}") from None
    return _from_text(text, f"--secret-seed-file {shown} is empty")


def resolve(public: int, secret_file: str | None = None, *, environ=None, warn=None) -> Seed:
    """The seed of a run: ``--secret-seed-file`` first, else ``$GRADE_SECRET_SEED``, else public.

    ``warn`` (a function of a list of lines) hears about a short secret and about a secret
    file that every user can read. A set but empty ``$GRADE_SECRET_SEED`` is an error: in CI
    an undefined secret expands to nothing, and an official run must not quietly turn public.
    """
    environ = os.environ if environ is None else environ
    if secret_file is not None:
        secret = read_secret_file(secret_file)
        if warn is not None and _readable_by_others(secret_file):
            warn([f"the secret seed file {secret_file} can be read by every user on this machine; "
                  f"chmod 600 it, so that learner code running under a user of its own cannot read it."])
    elif environ.get(SECRET_ENV) is not None:
        secret = _from_text(environ[SECRET_ENV], f"${SECRET_ENV} is set but empty (in CI, a secret that "
                                                 f"is not defined expands to nothing)")
    else:
        return Seed(int(public))
    if warn is not None and len(secret) < MIN_SECRET_BYTES:
        warn([f"the secret seed is only {len(secret)} characters long: a short secret can be guessed from "
              f"the inputs the grader sends. Make a strong one with: {MAKE_ONE}"])
    return Seed(int(public), secret)


def _readable_by_others(path: str) -> bool:
    try:
        from .runner.isolation import others_can_reach

        return others_can_reach(path)
    except Exception:  # noqa: BLE001 - a warning only
        return False


# ----------------------------------------------------------------------------- determinism

_lock = threading.RLock()
_depth = 0
_saved = None


@contextlib.contextmanager
def independent_examples():
    """Inside: hypothesis draws the same examples whatever modules this process has loaded.

    Hypothesis (6.131 and later) mixes into its draws constants it collects from the source
    of every *local* module in ``sys.modules`` (anything outside site-packages and the
    standard library: the grader itself when installed editable, a teacher's own scripts,
    a notebook's helpers). So ``grade`` and a call of :func:`grader.grading.grade` from
    Python met different examples for the same seed, and hypothesis wrote those constants
    to ``.hypothesis/constants/`` in the current folder. Hypothesis has no setting to turn
    that off; this swaps its collector (``hypothesis.internal.conjecture.providers.
    _get_local_constants``) for one that returns no constants, and clears its cache of
    permitted constants on the way in and out, so draws use hypothesis's fixed built-in
    constants only and nothing outside the grader's runs changes. Older hypothesis versions
    without the collector need nothing. Re-entrant and thread-safe (one swap for all).
    """
    global _depth, _saved
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - hypothesis is a dependency
        yield
        return
    if not hasattr(providers, "_get_local_constants"):
        yield
        return
    with _lock:
        if _depth == 0:
            _saved = providers._get_local_constants
            empty = _no_constants(providers)
            providers._get_local_constants = lambda *args, **kwargs: empty
            _clear_constants_cache(providers)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                providers._get_local_constants = _saved
                _saved = None
                _clear_constants_cache(providers)


def _no_constants(providers):
    constants = getattr(providers, "Constants", None)
    if constants is not None:
        try:
            return constants()
        except TypeError:  # pragma: no cover - another signature
            pass
    return type(providers._local_constants)()  # pragma: no cover


def _clear_constants_cache(providers) -> None:
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    inner = getattr(cache, "cache", None)
    if hasattr(inner, "clear"):
        inner.clear()
    elif hasattr(cache, "clear"):  # pragma: no cover
        cache.clear()


__all__ = ["Seed", "SecretSeedError", "SECRET_ENV", "PUBLIC", "SECRET", "resolve", "read_secret_file",
           "independent_examples"]
