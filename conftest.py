import pytest

from prompts.selectors import clear_active_prompt_cache


@pytest.fixture(autouse=True)
def _fresh_active_prompt_cache():
    # The active-prompt cache is per process and would leak versions between tests.
    clear_active_prompt_cache()
    yield
    clear_active_prompt_cache()
