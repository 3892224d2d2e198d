import pytest

# The multi-process fixtures of the extraction tests: the fake API server, cluster environments, clusters.
from extraction.tests.conftest import fake_api_server, start_cluster, worker_env  # noqa: F401
from prompts.selectors import get_active_prompt
from prompts.services import rollout_start
from prompts.tests.factories import make_version


@pytest.fixture
def rollout(db):
    """A running canary of classification.email_intent: v2 at 20 % beside the seeded v1."""
    v1 = get_active_prompt("classification", "email_intent")
    return rollout_start(candidate=make_version(v1), percent=20, started_by="erika", reason="Test canary")
