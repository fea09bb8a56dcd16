"""A small suite: one test leaks through the C extension, the others are
correct; one test fails on purpose, so refsan must keep pytest's outcome."""
import leakcheck
import pytest


@pytest.fixture
def payload():
    return [1, 2, 3]


def test_fixed_functions(payload):
    leakcheck.new_list_fixed()
    leakcheck.argument_fixed(payload)
    with pytest.raises(TypeError):
        leakcheck.on_error_fixed("not a list")


def test_leaks_on_error_path():
    with pytest.raises(TypeError):
        leakcheck.leak_on_error("not a list")


def test_prints_and_passes(capsys):
    print("hello from the test")
    assert capsys.readouterr().out == "hello from the test\n"


def test_fails_on_purpose():
    assert leakcheck.on_error_fixed([1]) == 3
