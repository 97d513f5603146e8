"""The HTTP fixtures of tests/api/http (an app on SQLite and on PostgreSQL), shared with the security suite."""

from tests.api.http.conftest import acme, api, settings  # noqa: F401 - fixtures re-exported
