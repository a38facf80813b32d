"""NHS number Modulus 11 and the text rules every use case shares."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim_desk.records.errors import ValidationError
from sim_desk.records.validation import (
    clean_text,
    format_nhs_number,
    is_valid_nhs_number,
    nhs_number_check_digit,
    normalise_nhs_number,
)

# Published examples: valid numbers from NHS Digital test data, and near-misses.
VALID = ["9434765919", "943 476 5919", "401 023 2137", "401-023-2137"]
INVALID = ["9434765918", "4010232138", "123456789", "12345678901", "94347659l9", "١٢٣٤٥٦٧٨٩٠"]


@pytest.mark.parametrize("number", VALID)
def test_valid_nhs_numbers_pass(number):
    assert is_valid_nhs_number(number)
    assert normalise_nhs_number(number) == number.replace(" ", "").replace("-", "")


@pytest.mark.parametrize("number", INVALID)
def test_invalid_nhs_numbers_fail_with_a_message_naming_the_field(number):
    assert not is_valid_nhs_number(number)
    with pytest.raises(ValidationError) as error:
        normalise_nhs_number(number)
    assert error.value.field == "nhs_number"


def test_check_digit_of_ten_means_no_valid_number():
    # 000000001: sum = 2*1 = 2 → 11 - 2 = 9; find a prefix whose remainder gives 10.
    prefix = next(
        f"{n:09d}"
        for n in range(10_000)
        if 11 - sum(int(d) * w for d, w in zip(f"{n:09d}", range(10, 1, -1), strict=True)) % 11
        == 10
    )
    assert nhs_number_check_digit(prefix) is None
    assert not any(is_valid_nhs_number(prefix + str(d)) for d in range(10))


def weighted_check(first_nine: str) -> int | None:
    """The rule written out independently: weights 10..2, 11 - (sum mod 11), 11→0, 10 invalid."""
    total = sum(int(first_nine[i]) * (10 - i) for i in range(9))
    remainder = 11 - (total % 11)
    return {11: 0, 10: None}.get(remainder, remainder)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_exactly_one_check_digit_is_valid_unless_none_is(first_nine):
    valid_digits = [d for d in range(10) if is_valid_nhs_number(first_nine + str(d))]
    expected = weighted_check(first_nine)
    assert valid_digits == ([] if expected is None else [expected])


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_any_single_digit_change_of_a_valid_number_is_caught(number):
    if not is_valid_nhs_number(number):
        return
    for position in range(10):
        for digit in "0123456789":
            if digit != number[position]:
                changed = number[:position] + digit + number[position + 1 :]
                assert not is_valid_nhs_number(changed)


def test_display_form_is_3_3_4():
    assert format_nhs_number("9434765919") == "943 476 5919"


@pytest.mark.parametrize("name", ["Zofia Wójcik", "محمد الحسن", "王芳", "प्रिया शर्मा", "Ελένη"])
def test_names_in_any_script_are_kept(name):
    assert clean_text(name, field="n", label="Name", max_chars=200) == name


def test_control_characters_are_refused():
    with pytest.raises(ValidationError):
        clean_text("Ana\x00", field="n", label="Name", max_chars=200)


def test_composed_and_decomposed_forms_are_the_same_name():
    assert clean_text("Wo\u0301jcik", field="n", label="Name", max_chars=200) == "Wójcik"
