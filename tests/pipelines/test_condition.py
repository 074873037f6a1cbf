"""Step conditions: the grammar, its precedence, every refusal, and evaluation over
float and text columns with missing values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from modelport.errors import ValidationFailed
from modelport.pipelines.condition import MAX_DEPTH, MAX_LENGTH, Condition, parse_condition

NAN = np.nan


def _text(*items: Any) -> np.ndarray[Any, Any]:
    return np.array(items, dtype=object)


def _rows(text: str, **columns: Any) -> list[bool]:
    """Evaluate ``text`` over columns given as ``step__prediction=[...]`` (``__`` is a dot)."""
    values = {name.replace("__", "."): np.asarray(column) for name, column in columns.items()}
    n_rows = len(next(iter(values.values())))
    result = parse_condition(text).evaluate(values, n_rows)
    assert result.dtype == np.bool_ and result.shape == (n_rows,)
    return [bool(item) for item in result]


def _refused(text: Any, **kwargs: Any) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        parse_condition(text, **kwargs)
    return caught.value


# -- parsing -------------------------------------------------------------------------------


def test_a_comparison_keeps_its_text_and_the_reference_it_reads() -> None:
    condition = parse_condition("detect.prediction == 1")
    assert condition.text == "detect.prediction == 1"
    assert condition.refs == frozenset({"detect.prediction"})


def test_refs_hold_every_form_of_reference_once() -> None:
    condition = parse_condition(
        "request.country == 'fr' or detect.prediction != 0 or detect.proba.1 > 0.5"
        " or spam.proba.yes >= 0.1 or tag_v2.proba.a-b < 0.2 or request.country == 'de'"
    )
    assert condition.refs == {
        "request.country",
        "detect.prediction",
        "detect.proba.1",
        "spam.proba.yes",
        "tag_v2.proba.a-b",
    }


def test_spaces_around_operators_and_brackets_are_optional() -> None:
    tight = "(a.prediction==1)or(request.x in['p','q'])"
    assert _rows(tight, a__prediction=[1.0, 0.0, 0.0], request__x=_text("z", "q", None)) == [
        True,
        True,
        False,
    ]


def test_number_literals_take_a_sign_a_fraction_and_an_exponent() -> None:
    column = [-2.0, -1.5, 0.5, 1000.0, 2.0]
    assert _rows("s.prediction == -1.5", s__prediction=column) == [0, 1, 0, 0, 0]
    assert _rows("s.prediction == 1e3", s__prediction=column) == [0, 0, 0, 1, 0]
    assert _rows("s.prediction == .5", s__prediction=column) == [0, 0, 1, 0, 0]
    assert _rows("s.prediction == +2", s__prediction=column) == [0, 0, 0, 0, 1]
    assert _rows("s.prediction < -1.5", s__prediction=column) == [1, 0, 0, 0, 0]


def test_single_and_double_quotes_hold_the_other_quote() -> None:
    column = _text("it's", 'say "hi"', "plain")
    assert _rows('request.q == "it\'s"', request__q=column) == [True, False, False]
    assert _rows("request.q == 'say \"hi\"'", request__q=column) == [False, True, False]


def test_two_parses_of_one_text_are_equal_and_frozen() -> None:
    first, second = parse_condition("a.prediction == 1"), parse_condition("a.prediction == 1")
    assert first == second
    with pytest.raises(AttributeError):
        first.text = "b.prediction == 1"  # type: ignore[misc]


# -- precedence, not, in -------------------------------------------------------------------

# Three rows where a is true, b is true and c is false in row 0, so grouping matters.
ABC = {
    "a__prediction": [1.0, 0.0, 0.0],
    "b__prediction": [1.0, 1.0, 0.0],
    "c__prediction": [0.0, 1.0, 1.0],
}
A, B, C = "a.prediction == 1", "b.prediction == 1", "c.prediction == 1"


def test_and_binds_tighter_than_or() -> None:
    # a or (b and c) = [T, T, F]; (a or b) and c would be [F, T, F].
    assert _rows(f"{A} or {B} and {C}", **ABC) == [True, True, False]
    assert _rows(f"{A} or ({B} and {C})", **ABC) == [True, True, False]
    assert _rows(f"({A} or {B}) and {C}", **ABC) == [False, True, False]


def test_and_chains_and_or_chains_take_every_operand() -> None:
    assert _rows(f"{A} and {B} and not {C}", **ABC) == [True, False, False]
    assert _rows(f"{A} or {B} or {C}", **ABC) == [True, True, True]


def test_not_binds_tighter_than_and() -> None:
    # (not a) and b = [F, T, F]; not (a and b) would be [F, T, T].
    assert _rows(f"not {A} and {B}", **ABC) == [False, True, False]
    assert _rows(f"not ({A} and {B})", **ABC) == [False, True, True]


def test_not_not_cancels() -> None:
    assert _rows(f"not not {A}", **ABC) == [True, False, False]


def test_in_is_any_of_the_literals() -> None:
    column = _text("fr", "de", "it", None)
    assert _rows("request.c in ['fr', \"de\"]", request__c=column) == [True, True, False, False]


def test_not_in_is_true_for_a_missing_value() -> None:
    column = _text("fr", "de", "it", None)
    assert _rows("request.c not in ['fr', 'de']", request__c=column) == [False, False, True, True]


def test_in_on_a_float_column_mixes_numbers_text_and_booleans() -> None:
    column = [1.0, 2.0, 3.0, NAN, 0.0]
    assert _rows("x.prediction in [1, 'two', 3.0]", x__prediction=column) == [1, 0, 1, 0, 0]
    assert _rows("x.prediction not in [1, false]", x__prediction=column) == [0, 1, 1, 1, 0]


# -- refusals ------------------------------------------------------------------------------

# (text, what the message must say, the position it must name)
BAD = [
    ("detect.prediction = 1", "found unexpected character '='", 18),
    ("detect.prediction == 1 & b.prediction == 2", "found unexpected character '&'", 23),
    ("detect.prediction == 1 and", "expected a reference", 26),
    ("== 1", "expected a reference", 0),
    ("detect.prediction ==", "expected a literal", 20),
    ("detect.prediction", "expected an operator", 17),
    ("not", "expected a reference", 3),
    ("()", "expected a reference", 1),
    ("(detect.prediction == 1", "to close the '(' at position 0", 23),
    ("((a.prediction == 1) or b.prediction == 2", "to close the '(' at position 0", 41),
    ("detect.prediction == 1)", "no '(' to close", 22),
    ("prediction == 1", "a reference has a dot", 0),
    ("detect.prediction < 'high'", "expected a number after '<'", 20),
    ('detect.proba.yes >= "x"', "only == and != compare text", 20),
    ("detect.prediction > true", "expected a number after '>'", 20),
    ("detect.prediction == 'open", "unterminated string", 21),
    ("detect.prediction == yes", "quote text: 'yes'", 21),
    ("detect.prediction == True", "keywords are lowercase", 21),
    ("a.prediction == 1 AND b.prediction == 2", "keywords are lowercase", 18),
    ("detect.prediction not ['a']", "expected 'in' after 'not'", 22),
    ("detect.prediction in 'a'", "expected '['", 21),
    ("detect.prediction in []", "expected a literal", 22),
    ("detect.prediction in [1, ]", "expected a literal", 25),
    ("detect.prediction in [1 2]", "expected ',' or ']'", 24),
    ("detect.predicton == 1", "followed by .prediction or .proba.<class>", 0),
    ("detect.proba == 1", "followed by .prediction or .proba.<class>", 0),
    ("request.a.b == 1", "request.<field> names one field", 0),
    ("detect..prediction == 1", "letters, digits, '_' or '-'", 0),
    ("and == 1", "expected a reference", 0),
    ("1.5 == detect.prediction", "expected a reference", 0),
    ("detect.prediction == 1e999", "too large", 21),
    ("request.x == __import__('os')", "expected a literal", 13),
]


@pytest.mark.parametrize(("text", "says", "position"), BAD, ids=[text for text, _, _ in BAD])
def test_every_mistake_is_refused_with_its_position(text: str, says: str, position: int) -> None:
    refused = _refused(text)
    assert refused.field == "when"
    assert refused.message.startswith(f"condition {text!r}: expected ")
    assert says in refused.message
    assert f"at position {position}," in refused.message


def test_the_field_is_the_callers() -> None:
    assert _refused("nope", field="steps[2].when").field == "steps[2].when"


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_condition_is_refused(text: str) -> None:
    refused = _refused(text)
    assert refused.field == "when"
    assert "is empty" in refused.message and "position 0" in refused.message


def test_a_condition_longer_than_the_limit_is_refused() -> None:
    clause = "a.prediction == 1"
    text = " or ".join([clause] * 60)
    assert len(text) > MAX_LENGTH
    refused = _refused(text)
    assert f"at most {MAX_LENGTH} characters, found {len(text)}" in refused.message
    # Just under the limit, the same clauses parse.
    shorter = " or ".join([clause] * (MAX_LENGTH // (len(clause) + 4)))
    assert parse_condition(shorter).refs == {"a.prediction"}


def test_nesting_deeper_than_the_limit_is_refused_not_a_recursion_error() -> None:
    deep = MAX_DEPTH + 1
    assert "nested" in _refused("(" * deep + "a.prediction == 1" + ")" * deep).message
    assert "nested" in _refused("not " * deep + "a.prediction == 1").message
    ok = "(" * MAX_DEPTH + "a.prediction == 1" + ")" * MAX_DEPTH
    assert _rows(ok, a__prediction=[1.0, 2.0]) == [True, False]


def test_a_condition_that_is_not_text_is_refused() -> None:
    refused = _refused(1, field="steps[0].when")
    assert refused.field == "steps[0].when" and "must be a string" in refused.message


# -- evaluation on float columns -----------------------------------------------------------

FLOATS = [1.0, 2.0, NAN]


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("==", [False, True, False]),
        ("!=", [True, False, True]),
        ("<", [True, False, False]),
        ("<=", [True, True, False]),
        (">", [False, False, False]),
        (">=", [False, True, False]),
    ],
)
def test_nan_compares_false_for_everything_but_not_equal(op: str, expected: list[bool]) -> None:
    assert _rows(f"s.proba.1 {op} 2", s__proba__1=FLOATS) == expected


def test_a_float_column_never_equals_text() -> None:
    assert _rows("s.prediction == '1'", s__prediction=FLOATS) == [False, False, False]
    assert _rows("s.prediction != '1'", s__prediction=FLOATS) == [True, True, True]


def test_true_and_false_are_one_and_zero_for_numbers_and_booleans() -> None:
    assert _rows("s.prediction == true", s__prediction=[1.0, 0.0, NAN]) == [True, False, False]
    assert _rows("s.prediction == false", s__prediction=[1.0, 0.0, NAN]) == [False, True, False]
    flags = np.array([True, False])
    assert _rows("request.flag == true", request__flag=flags) == [True, False]
    assert _rows("request.n >= 2", request__n=np.array([1, 2, 3])) == [False, True, True]


# -- evaluation on text columns ------------------------------------------------------------


def test_text_equality_treats_none_as_missing() -> None:
    column = _text("yes", "no", None)
    assert _rows("s.prediction == 'yes'", s__prediction=column) == [True, False, False]
    assert _rows("s.prediction != 'yes'", s__prediction=column) == [False, True, True]


def test_an_int_literal_equals_its_text_only() -> None:
    column = _text("1", "1.0", "01", None)
    assert _rows("s.prediction == 1", s__prediction=column) == [True, False, False, False]
    assert _rows("s.prediction != 1", s__prediction=column) == [False, True, True, True]


def test_a_whole_float_literal_equals_both_texts() -> None:
    column = _text("1", "1.0", "1.5", None)
    assert _rows("s.prediction == 1.0", s__prediction=column) == [True, True, False, False]
    assert _rows("s.prediction == 1.5", s__prediction=column) == [False, False, True, False]


def test_true_and_false_equal_their_text_in_either_case() -> None:
    column = _text("true", "True", "TRUE", "1", "false", "False", None)
    assert _rows("r.prediction == true", r__prediction=column) == [1, 1, 0, 0, 0, 0, 0]
    assert _rows("r.prediction == false", r__prediction=column) == [0, 0, 0, 0, 1, 1, 0]


def test_ordering_reads_text_as_numbers_and_skips_the_rest() -> None:
    # "10" > 2 as a number (as text "10" < "2"); "x" and None are false.
    column = _text("3", "x", None, "10", "-1", "2")
    assert _rows("request.n > 2", request__n=column) == [True, False, False, True, False, False]
    assert _rows("request.n <= 2", request__n=column) == [False, False, False, False, True, True]


def test_a_float_nan_in_a_text_column_is_missing() -> None:
    column = _text("a", NAN, None)
    assert _rows("request.c == 'nan'", request__c=column) == [False, False, False]
    assert _rows("request.c != 'a'", request__c=column) == [False, True, True]


def test_a_condition_over_both_kinds_of_column() -> None:
    condition = parse_condition(
        "detect.prediction == 1 and (detect.proba.1 >= 0.8 or request.tier in ['gold'])"
    )
    values = {
        "detect.prediction": _text("1", "1", "1", "0", None),
        "detect.proba.1": np.array([0.9, 0.5, NAN, 0.99, 0.99]),
        "request.tier": _text("basic", "gold", None, "gold", "gold"),
    }
    assert condition.evaluate(values, 5).tolist() == [True, True, False, False, False]


# -- what evaluate expects from its caller -------------------------------------------------


def test_a_reference_missing_from_values_is_a_key_error() -> None:
    condition = parse_condition("a.prediction == 1 or b.prediction == 1")
    with pytest.raises(KeyError, match="b.prediction"):
        condition.evaluate({"a.prediction": np.array([1.0])}, 1)


def test_a_column_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="expected \\(3,\\)"):
        parse_condition("a.prediction == 1").evaluate({"a.prediction": np.array([1.0])}, 3)


def test_no_rows_give_an_empty_selection() -> None:
    condition: Condition = parse_condition("not a.prediction == 1")
    result = condition.evaluate({"a.prediction": np.array([], dtype=np.float64)}, 0)
    assert result.dtype == np.bool_ and result.shape == (0,)
