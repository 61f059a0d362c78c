import pytest


@pytest.fixture
def write_spec(tmp_path):
    """Write a YAML spec into a temp dir and return its path."""

    def _write(text: str, name: str = "spec.yaml"):
        p = tmp_path / name
        p.write_text(text)
        return p

    return _write
