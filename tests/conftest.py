import pytest


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
