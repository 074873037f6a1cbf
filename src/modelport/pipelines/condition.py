"""Step conditions: ``when = "detect.prediction == 1"`` picks the rows a step runs on.

A condition is parsed once by :func:`parse_condition` and evaluated per batch, for all
rows at once, by :meth:`Condition.evaluate`. The grammar is small on purpose::

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | atom
    atom    := "(" expr ")" | compare
    compare := REF OP LITERAL | REF ["not"] "in" "[" LITERAL ("," LITERAL)* "]"
    OP      := == | != | < | <= | > | >=
    REF     := request.<field> | <step>.prediction | <step>.proba.<class>
    LITERAL := number (-1.5, 1e3) | 'text' | "text" | true | false

Keywords (``and``, ``or``, ``not``, ``in``, ``true``, ``false``) are lowercase; a REF
segment is letters, digits, ``_`` or ``-`` (so class labels such as ``1``, ``yes`` or
``a-b`` work); strings have no escapes (put a ``'`` inside ``"..."`` and the other way
round). Every mistake is a :class:`ValidationFailed` naming the caller's field, quoting
the text and saying what was expected at which position (counted from 0).

The parser is hand-written -- a regular-expression tokenizer and a recursive-descent
parser -- because the text comes from users and must never reach ``eval``, ``exec`` or
Python's own parser (``ast`` accepts far more than this grammar, and walking its tree
safely is more code than this), and no well-kept library parses exactly this small,
safe grammar into something numpy can evaluate over whole columns.

>>> condition = parse_condition("detect.prediction == 1 and request.country in ['fr', 'de']")
>>> sorted(condition.refs)
['detect.prediction', 'request.country']
>>> values = {"detect.prediction": np.array(["1", "0", None], dtype=object),
...           "request.country": np.array(["fr", "fr", "fr"], dtype=object)}
>>> condition.evaluate(values, 3).tolist()
[True, False, False]

A missing number (NaN) fails every comparison but ``!=``, so ``not`` picks it up:

>>> adult = parse_condition("not request.age < 18")
>>> adult.evaluate({"request.age": np.array([10.0, 30.0, np.nan])}, 3).tolist()
[False, True, True]
>>> parse_condition("detect.prediction = 1")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
modelport.errors.ValidationFailed: ... expected an operator (...) at position 18, found ... '='
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np

from modelport.errors import ValidationFailed

BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]
Column = np.ndarray[Any, Any]  # float64 or object, see _column

MAX_LENGTH = 1000
# Each '(' or 'not' is a few Python frames while parsing and evaluating; a cap keeps a
# 1000-character text of '((((...' a ValidationFailed instead of a RecursionError.
MAX_DEPTH = 32
KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false"})
REF_FORMS = "request.<field>, <step>.prediction or <step>.proba.<class>"

# One alternative per token kind; a character none of them matches becomes an "error"
# token, so the parser reports it where it expected something else (with that context).
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<op>==|!=|<=|>=|<|>)
    | (?P<punct>[()\[\],])
    | (?P<string>'[^']*'|"[^"]*")
    | (?P<word>[A-Za-z0-9_.+-]+)
    """,
    re.VERBOSE,
)
# [0-9], not \d: \d also matches other scripts' digits, which float() would accept.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")

Kind = Literal["op", "punct", "string", "word", "error", "end"]


@dataclass(frozen=True)
class _Token:
    kind: Kind
    text: str
    pos: int

    def describe(self) -> str:
        """How an error message names this token after "found"."""
        if self.kind == "end":
            return "end of text"
        if self.kind == "error":
            if self.text in "'\"":
                return f"an unterminated string starting with {self.text}"
            return f"unexpected character {self.text!r}"
        return repr(self.text)


def _tokenize(text: str) -> list[_Token]:
    """The tokens of ``text``, ending in one "end" token or at the first "error" one."""
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            tokens.append(_Token("error", text[pos], pos))
            return tokens
        if match.lastgroup != "space":
            tokens.append(_Token(cast(Kind, match.lastgroup), match.group(), pos))
        pos = match.end()
    tokens.append(_Token("end", "", pos))
    return tokens


@dataclass(frozen=True)
class _Literal:
    """A literal, ready for both kinds of column: ``number`` for float columns (None
    for a string, which no number equals) and ``texts`` for text columns."""

    kind: Literal["number", "string", "bool"]
    number: float | None
    texts: frozenset[str]


def _number_literal(word: str) -> _Literal:
    if _INTEGER.fullmatch(word):
        value = int(word)
        return _Literal("number", float(value), frozenset({str(value)}))
    number = float(word)
    texts = {repr(number)}
    if number.is_integer():
        # A float literal 1.0 equals the class label "1" as well as "1.0".
        texts.add(str(int(number)))
    return _Literal("number", number, frozenset(texts))


_TRUE = _Literal("bool", 1.0, frozenset({"true", "True"}))
_FALSE = _Literal("bool", 0.0, frozenset({"false", "False"}))


def _missing(value: object) -> bool:
    """None, or a float NaN (what pandas leaves in a text column), is a missing value."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _column(values: Mapping[str, Any], ref: str, n_rows: int) -> Column:
    """``values[ref]`` as float64 (numbers and booleans) or object (anything else)."""
    column = np.asarray(values[ref])
    if column.shape != (n_rows,):
        raise ValueError(f"values[{ref!r}] has shape {column.shape}, expected ({n_rows},)")
    if column.dtype.kind in "biuf":
        return column.astype(np.float64, copy=False)
    return column.astype(object, copy=False)


def _as_numbers(column: Column) -> FloatArray:
    """Each element of a column as a float; NaN where it is missing or not a number."""
    if column.dtype == np.float64:
        return column
    numbers = np.full(len(column), np.nan)
    for index, value in enumerate(column):
        if _missing(value):
            continue
        try:
            numbers[index] = float(value)
        except (TypeError, ValueError):
            pass  # text that is no number stays NaN: it fails every ordering
    return numbers


_ORDER: dict[str, Callable[[FloatArray, float], BoolArray]] = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


@dataclass(frozen=True)
class _Compare:
    """``ref op literal``; ``==``, ``!=``, ``in`` and ``not in`` hold any number of
    literals (``==`` one), the ordering operators one number."""

    ref: str
    op: str
    literals: tuple[_Literal, ...]

    def evaluate(self, values: Mapping[str, Any], n_rows: int) -> BoolArray:
        column = _column(values, self.ref, n_rows)
        if self.op in _ORDER:
            number = self.literals[0].number
            assert number is not None
            # NaN compares False for every ordering, without a warning.
            return _ORDER[self.op](_as_numbers(column), number)
        equal = self._equal(column)
        # != and not in are the complement of == and in, so a missing value is != anything.
        return equal if self.op in ("==", "in") else ~equal

    def _equal(self, column: Column) -> BoolArray:
        if column.dtype == np.float64:
            equal = np.zeros(len(column), dtype=bool)
            for literal in self.literals:
                if literal.number is not None:
                    equal |= column == literal.number
            return equal
        texts = frozenset().union(*(literal.texts for literal in self.literals))
        return np.fromiter(
            (not _missing(value) and str(value) in texts for value in column),
            dtype=bool,
            count=len(column),
        )


@dataclass(frozen=True)
class _Not:
    operand: _Node

    def evaluate(self, values: Mapping[str, Any], n_rows: int) -> BoolArray:
        return ~self.operand.evaluate(values, n_rows)


@dataclass(frozen=True)
class _And:
    operands: tuple[_Node, ...]

    def evaluate(self, values: Mapping[str, Any], n_rows: int) -> BoolArray:
        result = self.operands[0].evaluate(values, n_rows)
        for operand in self.operands[1:]:
            result = result & operand.evaluate(values, n_rows)
        return result


@dataclass(frozen=True)
class _Or:
    operands: tuple[_Node, ...]

    def evaluate(self, values: Mapping[str, Any], n_rows: int) -> BoolArray:
        result = self.operands[0].evaluate(values, n_rows)
        for operand in self.operands[1:]:
            result = result | operand.evaluate(values, n_rows)
        return result


_Node = _Compare | _Not | _And | _Or


@dataclass(frozen=True)
class Condition:
    """A parsed condition; build it with :func:`parse_condition`.

    ``refs`` is every reference it reads, for the caller to check before any row runs.
    """

    text: str
    refs: frozenset[str]
    tree: _Node = field(repr=False, compare=False)

    def evaluate(self, values: Mapping[str, Any], n_rows: int) -> BoolArray:
        """Which of ``n_rows`` rows the condition holds for.

        ``values[ref]`` is a 1-D array of ``n_rows`` per reference: float64 (NaN is
        missing) or object (str, or None for missing). Numbers compare as numbers;
        text compares by equality with the literal's text (an int literal ``1`` equals
        ``"1"``, a float ``1.0`` equals ``"1.0"`` and ``"1"``, ``true`` equals ``"true"``
        and ``"True"``); ``<`` and friends read text as numbers where it is one. A
        missing value, or a text no number equals, is false for everything but ``!=``
        and ``not in``. A reference missing from ``values`` is a KeyError.
        """
        return self.tree.evaluate(values, n_rows)


class _Parser:
    """Recursive descent over the tokens of one text; one method per grammar rule."""

    def __init__(self, text: str, field: str) -> None:
        self.text = text
        self.field = field
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.refs: set[str] = set()

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def _is(self, kind: Kind, text: str) -> bool:
        return self.token.kind == kind and self.token.text == text

    def _advance(self) -> _Token:
        token = self.token
        self.index += 1
        return token

    def fail(self, expected: str, token: _Token, hint: str = "") -> ValidationFailed:
        message = (
            f"condition {self.text!r}: expected {expected} at position {token.pos}, "
            f"found {token.describe()}"
        )
        if token.kind == "word" and token.text.lower() in KEYWORDS and token.text not in KEYWORDS:
            hint = hint or "keywords are lowercase"
        return ValidationFailed(message + (f"; {hint}" if hint else ""), field=self.field)

    def parse(self) -> _Node:
        tree = self._or()
        if self.token.kind != "end":
            if self._is("punct", ")"):
                raise self.fail("'and', 'or' or end of text", self.token, "no '(' to close")
            raise self.fail("'and', 'or' or end of text", self.token)
        return tree

    def _or(self) -> _Node:
        operands = [self._and()]
        while self._is("word", "or"):
            self._advance()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else _Or(tuple(operands))

    def _and(self) -> _Node:
        operands = [self._not()]
        while self._is("word", "and"):
            self._advance()
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else _And(tuple(operands))

    def _deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"at most {MAX_DEPTH} nested '(' or 'not'", self.token)

    def _not(self) -> _Node:
        if self._is("word", "not"):
            self._deeper()
            self._advance()
            node = _Not(self._not())
            self.depth -= 1
            return node
        return self._atom()

    def _atom(self) -> _Node:
        if self._is("punct", "("):
            self._deeper()
            opening = self._advance()
            node = self._or()
            if not self._is("punct", ")"):
                hint = f"to close the '(' at position {opening.pos}"
                raise self.fail("'and', 'or' or ')'", self.token, hint)
            self._advance()
            self.depth -= 1
            return node
        return self._compare()

    def _compare(self) -> _Compare:
        ref = self._ref()
        operator = self.token
        if operator.kind == "op":
            self._advance()
            literal = self._literal()
            if operator.text in _ORDER and literal.kind != "number":
                raise self.fail(
                    f"a number after {operator.text!r}",
                    self.tokens[self.index - 1],
                    "only == and != compare text",
                )
            return _Compare(ref, operator.text, (literal,))
        negated = self._is("word", "not")
        if negated:
            self._advance()
            if not self._is("word", "in"):
                raise self.fail("'in' after 'not'", self.token)
        if not self._is("word", "in"):
            raise self.fail("an operator (==, !=, <, <=, >, >=, in or not in)", self.token)
        self._advance()
        return _Compare(ref, "not in" if negated else "in", self._list())

    def _list(self) -> tuple[_Literal, ...]:
        if not self._is("punct", "["):
            raise self.fail("'[' to start the list after 'in'", self.token)
        self._advance()
        literals = [self._literal()]
        while self._is("punct", ","):
            self._advance()
            literals.append(self._literal())
        if not self._is("punct", "]"):
            raise self.fail("',' or ']' in the list", self.token)
        self._advance()
        return tuple(literals)

    def _ref(self) -> str:
        token = self.token
        expected = f"a reference ({REF_FORMS}), 'not' or '('"
        if token.kind != "word" or token.text in KEYWORDS:
            raise self.fail(expected, token)
        parts = token.text.split(".")
        if len(parts) == 1:
            raise self.fail(expected, token, "a reference has a dot")
        if not all(_SEGMENT.fullmatch(part) for part in parts):
            hint = "each part of a reference is letters, digits, '_' or '-'"
            raise self.fail(expected, token, hint)
        if parts[0] == "request":
            if len(parts) != 2:
                raise self.fail(expected, token, "request.<field> names one field")
        elif not (
            (len(parts) == 2 and parts[1] == "prediction")
            or (len(parts) == 3 and parts[1] == "proba")
        ):
            hint = "a step name is followed by .prediction or .proba.<class>"
            raise self.fail(expected, token, hint)
        self._advance()
        self.refs.add(token.text)
        return token.text

    def _literal(self) -> _Literal:
        token = self.token
        expected = "a literal (number, quoted string, true or false)"
        if token.kind == "string":
            self._advance()
            value = token.text[1:-1]
            return _Literal("string", None, frozenset({value}))
        if token.kind == "word":
            if token.text == "true":
                self._advance()
                return _TRUE
            if token.text == "false":
                self._advance()
                return _FALSE
            if _NUMBER.fullmatch(token.text):
                literal = _number_literal(token.text)
                assert literal.number is not None
                if not math.isfinite(literal.number):
                    raise self.fail(expected, token, "the number is too large")
                self._advance()
                return literal
            if token.text not in KEYWORDS and token.text.lower() not in KEYWORDS:
                raise self.fail(expected, token, f"quote text: '{token.text}'")
        raise self.fail(expected, token)


def parse_condition(text: str, *, field: str = "when") -> Condition:
    """``text`` as a :class:`Condition`, or :class:`ValidationFailed` naming ``field``."""
    if not isinstance(text, str):
        raise ValidationFailed(
            f"condition must be a string, found {type(text).__name__}", field=field
        )
    if len(text) > MAX_LENGTH:
        raise ValidationFailed(
            f"condition {text[:40] + '...'!r}: expected at most {MAX_LENGTH} characters, "
            f"found {len(text)}",
            field=field,
        )
    if not text.strip():
        raise ValidationFailed(
            f"condition {text!r} is empty: expected an expression such as "
            "'detect.prediction == 1' at position 0",
            field=field,
        )
    parser = _Parser(text, field)
    tree = parser.parse()
    return Condition(text=text, refs=frozenset(parser.refs), tree=tree)


__all__ = ["MAX_DEPTH", "MAX_LENGTH", "Condition", "parse_condition"]
