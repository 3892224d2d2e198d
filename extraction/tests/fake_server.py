"""Moved to extraction.fake_api (the soak command uses it too); kept as an alias for existing imports."""

from extraction.fake_api import FakeAnthropicServer  # noqa: F401
