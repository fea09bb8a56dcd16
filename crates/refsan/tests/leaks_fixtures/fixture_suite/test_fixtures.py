"""Tests using pytest's own fixtures of every scope: none leaks, although
pytest keeps bookkeeping per use of a function-scoped fixture that depends on
a session one (tmp_path -> tmp_path_factory) until the session ends. One test
does leak, through the extension, while using tmp_path: it must still be
found."""
import leakcheck
import pytest


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("data")
    (path / "x.txt").write_text("hello")
    return path


@pytest.fixture(scope="module")
def module_list():
    return [1, 2, 3]


@pytest.fixture
def payload(session_dir):
    return (session_dir / "x.txt").read_text()


def test_tmp_path(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    leakcheck.new_list_fixed()


def test_tmp_path_factory(tmp_path_factory):
    assert tmp_path_factory.mktemp("sub").exists()


def test_session_and_module_fixtures(session_dir, module_list):
    assert (session_dir / "x.txt").read_text() == "hello"
    leakcheck.argument_fixed(module_list)


def test_function_fixture_on_a_session_one(payload):
    assert payload == "hello"


def test_tmpdir_and_monkeypatch(tmpdir, monkeypatch):
    monkeypatch.setenv("REFSAN_FIXTURE_SUITE", "1")
    tmpdir.join("b.txt").write("y")


def test_leaks_with_tmp_path(tmp_path):
    (tmp_path / "c.txt").write_text("z")
    leakcheck.leak_new_list()
