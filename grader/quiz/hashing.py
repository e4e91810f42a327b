"""Normalising answers, rounding numbers and the salted hashes of the answer key.

An answer key entry is ``digest(salt, question_id, canonical_answer)``: the first 32 hex
digits of a SHA-256. The *canonical* form is what two answers that should count as the
same have in common:

- a choice: its text, normalised (``normalise_text``);
- a multiple-choice option: its text and whether it is right, ``"<text>=1"`` or ``"<text>=0"``;
- true/false: ``"true"`` or ``"false"``;
- a number: rounded half-up to the question's significant figures or decimal places
  (``round_canonical``), so "3.66", "3.660" and "3.6606" are the same answer to 3 s.f.;
- a vector or matrix: its shape and its rounded entries, ``"3:1.30e+1,2.10e+1,1.00e+1"``;
- a text: normalised, then cut down to the part a pattern captures.

Nothing here is secret: the salt only makes each quiz's digests its own (a table of
digests made for one quiz is useless for another). See docs/learners.md, Quizzes for what this
does and does not protect.
"""
from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

DIGEST_LENGTH = 32
_DIGEST_RE = re.compile(rf"^[0-9a-f]{{{DIGEST_LENGTH}}}$")


def digest(salt: str, question_id: str, canonical: str) -> str:
    data = f"dlgrade-quiz\n{salt}\n{question_id}\n{canonical}".encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:DIGEST_LENGTH]


def is_digest(text) -> bool:
    return isinstance(text, str) and bool(_DIGEST_RE.match(text))


# --- text ---------------------------------------------------------------------------

_TRANSLATE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u00a0": " ",
})


def normalise_text(text) -> str:
    """Lower case, one space between words, no surrounding quotes or final full stop.

    "  The  ReLU function. " and "the relu function" are the same answer.
    """
    s = unicodedata.normalize("NFKC", str(text)).translate(_TRANSLATE).casefold()
    s = " ".join(s.split())
    while True:
        before = s
        s = s.strip().rstrip(".!;:")
        if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"`":
            s = s[1:-1]
        if s == before:
            return s


def extract(text: str, pattern: str | None) -> str | None:
    """The part of a normalised text that counts: the pattern's first group (or all of
    it), or None when the text does not have the pattern's form."""
    if not pattern:
        return text
    m = re.fullmatch(pattern, text)
    if m is None:
        return None
    if m.re.groups:
        return " ".join((m.group(1) or "").split())
    return m.group(0)


# --- numbers ------------------------------------------------------------------------

_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


def parse_number(value) -> float:
    """A learner's number: 15, -3.5, 1e-3, 676,888, 676_888, 1/6 or 37.5% (= 0.375).

    Raises ValueError with a sentence saying what is wrong.
    """
    if isinstance(value, bool):
        raise ValueError("true/false is not a number")
    if isinstance(value, (int, float)):
        x = float(value)
    elif isinstance(value, str):
        s = unicodedata.normalize("NFKC", value).translate(_TRANSLATE).strip().replace(" ", "")
        if not s:
            raise ValueError("it is empty")
        if _THOUSANDS.match(s):
            s = s.replace(",", "")
        if "," in s:
            raise ValueError(f"'{value}' has a comma: write decimals with a dot (3.5), "
                             f"without thousands separators")
        scale = 1.0
        if s.endswith("%"):
            s, scale = s[:-1], 0.01
        if s.count("/") == 1:
            top, bottom = s.split("/")
            x = _float(top, value) / _nonzero(_float(bottom, value), value)
        else:
            x = _float(s, value)
        x *= scale
    else:
        raise ValueError("it is not a number")
    if not math.isfinite(x):
        raise ValueError(f"'{value}' is not a finite number")
    return x


def _float(text: str, original) -> float:
    if not re.fullmatch(r"[+-]?(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][+-]?\d+)?", text):
        raise ValueError(f"'{original}' is not a number (try something like 2.5, -3 or 1/4)")
    return float(text)


def _nonzero(x: float, original) -> float:
    if x == 0:
        raise ValueError(f"'{original}' divides by zero")
    return x


def _decimal(x: float) -> Decimal:
    # repr gives the shortest text that reads back as x: "2.675" stays 2.675, so
    # rounding half-up does what a person rounding the typed digits would do.
    return Decimal(repr(float(x)))


def round_decimals(x: float, decimals: int) -> Decimal:
    q = _decimal(x).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return abs(q) if q == 0 else q


def round_sig(x: float, sig_figs: int) -> Decimal:
    d = _decimal(x)
    if d == 0:
        return Decimal(0)
    places = sig_figs - 1 - d.adjusted()
    q = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if q.adjusted() > d.adjusted():  # 9.996 -> 10.00 has one digit too many: 10.0
        q = q.quantize(Decimal(1).scaleb(-(places - 1)), rounding=ROUND_HALF_UP)
    return q


def round_canonical(x: float, sig_figs: int | None = None, decimals: int | None = None) -> str:
    """The canonical text of a rounded number: "1.34e+1" (3 s.f.) or "13.4" (1 decimal)."""
    try:
        if sig_figs is not None:
            q = round_sig(x, sig_figs)
            return "0" if q == 0 else format(q, f".{sig_figs - 1}e")
        if decimals is not None:
            return format(round_decimals(x, decimals), "f")
    except InvalidOperation:  # pragma: no cover - absurdly large exponents
        return repr(float(x))
    raise ValueError("a rounding needs sig_figs or decimals")


def close_enough(got: float, exact: float, *, rtol: float | None = None, atol: float | None = None,
                 sig_figs: int | None = None, decimals: int | None = None) -> bool:
    """Is a learner's number right, compared with the value the grader computed?

    - ``sig_figs``/``decimals``: right when it rounds to the same value as the exact answer,
      or lies within half a unit of the last asked-for digit of it (so 3.66 is right for
      3.6606 to 3 s.f., and so is 3.6649; 3.67 is not).
    - ``rtol``/``atol``: right when |got - exact| <= atol + rtol * |exact|.
    Several given: right when any one accepts. None given: exact up to 1e-9.
    """
    slack = 1 + 1e-9
    if sig_figs is not None:
        if round_canonical(got, sig_figs=sig_figs) == round_canonical(exact, sig_figs=sig_figs):
            return True
        if exact == 0:
            unit = 10.0 ** (1 - sig_figs)
        else:
            unit = 10.0 ** (math.floor(math.log10(abs(exact))) - sig_figs + 1)
        if abs(got - exact) <= 0.5 * unit * slack:
            return True
    if decimals is not None:
        if round_canonical(got, decimals=decimals) == round_canonical(exact, decimals=decimals):
            return True
        if abs(got - exact) <= 0.5 * 10.0 ** (-decimals) * slack:
            return True
    if rtol is None and atol is None and sig_figs is None and decimals is None:
        rtol, atol = 1e-9, 1e-9
    if rtol is not None or atol is not None:
        return abs(got - exact) <= (atol or 0.0) + (rtol or 0.0) * abs(exact)
    return False
