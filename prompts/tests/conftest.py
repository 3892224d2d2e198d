import pytest

from prompts.models import PromptTemplate
from prompts.selectors import get_active_prompt
from prompts.tests.factories import OPERATOR_PERMISSIONS, VIEW, login


def make_prompt(*, task_type="validation", name="amount_check", version=1, is_active=False, **fields):
    """Save a prompt version directly (bypassing services) for tests that need raw rows."""
    defaults = {
        "user_prompt_template": "Prüfe den Betrag {{ amount }}.",
        "created_by": "test",
        "model_name": "claude-haiku-4-5-20251001",
    }
    return PromptTemplate.objects.create(
        task_type=task_type, name=name, version=version, is_active=is_active, **{**defaults, **fields}
    )


@pytest.fixture
def intent_v1(db):
    """The seeded, active v1 of classification.email_intent."""
    return get_active_prompt("classification", "email_intent")


@pytest.fixture
def operator(client):
    """The test client logged in as staff who may view, create and activate versions."""
    return login(client, "erika", *OPERATOR_PERMISSIONS)


@pytest.fixture
def viewer(client):
    """The test client logged in as view-only staff."""
    return login(client, "victor", VIEW)
