import pytest


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    """Every test runs in its own directory: `eqvbench run` keeps its default store in the working directory."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def write_spec(tmp_path):
    """Write a YAML spec into a temp dir and return its path."""

    def _write(text: str, name: str = "spec.yaml"):
        p = tmp_path / name
        p.write_text(text)
        return p

    return _write


@pytest.fixture(autouse=True)
def _private_tree_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own empty tree cache: no test reads trees another test (or a user) stored."""
    monkeypatch.setenv("EQVBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("trees")))
