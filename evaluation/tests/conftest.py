import pytest

# The multi-process fixtures of the extraction tests: the fake API server, cluster environments, clusters;
# and their temporary MEDIA_ROOT (autouse).
from extraction.tests.conftest import fake_api_server, media_root, start_cluster, worker_env  # noqa: F401
from prompts.selectors import get_active_prompt
from prompts.services import rollout_start
from prompts.tests.factories import make_version


@pytest.fixture
def rollout(db):
    """A running canary of classification.email_intent: v2 at 20 % beside the seeded v1."""
    v1 = get_active_prompt("classification", "email_intent")
    return rollout_start(candidate=make_version(v1), percent=20, started_by="erika", reason="Test canary")


@pytest.fixture
def fake_model(settings, fake_api_server):  # noqa: F811 - the imported fixture, requested
    """The product's own client pointed at the fake model on 127.0.0.1 (devtools.fake_api): every call of
    the pipeline and of experiments reaches it over HTTP. Experiments answer one case at a time (in the
    test's thread: other threads would not see the test's uncommitted rows)."""
    settings.ANTHROPIC_API_KEY = "test"
    settings.ANTHROPIC_BASE_URL = fake_api_server.url
    settings.ANTHROPIC_MAX_RETRIES = 0
    settings.EXPERIMENT_CONCURRENCY = 1
    return fake_api_server
