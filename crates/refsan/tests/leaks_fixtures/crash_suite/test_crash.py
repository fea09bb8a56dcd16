"""A suite where one test crashes the interpreter: refsan must report it
and still measure (and run) the others."""
import leakcheck


def test_before():
    leakcheck.new_list_fixed()


def test_crashes():
    leakcheck.crash_now()


def test_after():
    leakcheck.new_list_fixed()
