import pytest
from django.conf import settings

from prompts.selectors import clear_active_prompt_cache


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres_only") and "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        pytest.skip("needs PostgreSQL (row locks, several writers at once); CI runs it in the PostgreSQL pass")


@pytest.fixture(autouse=True)
def _fresh_active_prompt_cache():
    # The active-prompt cache is per process and would leak versions between tests.
    clear_active_prompt_cache()
    yield
    clear_active_prompt_cache()
