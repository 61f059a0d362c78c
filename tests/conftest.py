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
