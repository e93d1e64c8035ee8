"""Suite-wide test settings."""

from __future__ import annotations

# httpx >= 0.29 imports httpcore on first use. If that first use is inside an in-process
# pytester session, pytester drops httpcore from sys.modules afterwards; the re-imported
# httpcore then raises exception classes httpx no longer maps (a bare httpcore.ConnectError
# instead of httpx.ConnectError). Importing it here keeps one httpcore for the whole run.
import httpcore  # noqa: F401
import pytest


@pytest.fixture(autouse=True)
def _quiet_inner_sessions(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """pytester's inner sessions have no ini file, so pytest-asyncio warns about its unset loop
    scope in every end-to-end test; silence just that warning there."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it clears PYTEST_ADDOPTS when it starts
        # Under `pytest -n`, inner sessions would otherwise believe they are xdist workers
        # (syrupy reads these) and skip their own snapshot reports.
        for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(
            "PYTEST_ADDOPTS",
            "-W 'ignore:The configuration option \"asyncio_default_fixture_loop_scope\"'",
        )
