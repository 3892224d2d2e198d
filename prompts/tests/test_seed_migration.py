"""Migration 0002 seeds v1 of the four pipeline prompts, idempotently and reversibly."""

import importlib

import pytest
from django.apps import apps

from prompts.models import PromptActivation, PromptTemplate
from prompts.services import prompt_activate, prompt_create_version

seed_migration = importlib.import_module("prompts.migrations.0002_seed_v1_prompts")
pytestmark = pytest.mark.django_db

SEEDED_KEYS = {
    ("classification", "email_intent"),
    ("extraction", "email_body"),
    ("extraction", "pdf_scanned"),
    ("extraction", "image"),
}


def active_keys():
    return set(PromptTemplate.objects.filter(is_active=True).values_list("task_type", "name"))


def test_migrate_seeds_the_four_prompts_as_active_v1_by_system_migration():
    seeded = PromptTemplate.objects.filter(created_by="system_migration")
    assert {(p.task_type, p.name) for p in seeded} == SEEDED_KEYS
    assert all(p.version == 1 and p.is_active for p in seeded)
    assert active_keys() == SEEDED_KEYS


def test_seeded_prompts_use_real_anthropic_model_ids():
    assert set(PromptTemplate.objects.values_list("model_name", flat=True)) <= {
        "claude-haiku-4-5-20251001", "claude-sonnet-4-6",
    }


def test_seeded_templates_are_valid_and_list_their_variables():
    for prompt in PromptTemplate.objects.all():
        prompt.full_clean()
    variables = dict(PromptTemplate.objects.values_list("name", "variables"))
    assert variables == {
        "email_intent": ["subject", "truncated_body"],
        "email_body": ["body", "sender", "subject"],
        "pdf_scanned": [],
        "image": [],
    }


def test_seeded_variables_match_what_the_templates_really_use():
    # The migration hard-codes the variable lists (migrations are frozen); re-saving recomputes them.
    for prompt in PromptTemplate.objects.all():
        listed = list(prompt.variables)
        prompt.save()
        assert prompt.variables == listed


def test_running_the_seed_again_changes_nothing():
    before = list(PromptTemplate.objects.values().order_by("pk"))
    seed_migration.seed_prompts(apps, None)
    assert list(PromptTemplate.objects.values().order_by("pk")) == before
    assert PromptActivation.objects.filter(kind="seed").count() == 4


def test_running_the_seed_again_keeps_an_operator_activated_version_active():
    v1 = PromptTemplate.objects.get(name="email_intent")
    v2 = prompt_create_version(source=v1, created_by="erika", description="Kürzer")
    prompt_activate(template=v2, activated_by="erika")
    seed_migration.seed_prompts(apps, None)
    assert PromptTemplate.objects.get(name="email_intent", is_active=True) == v2


def test_the_seed_can_be_reversed_and_applied_again():
    seed_migration.unseed_prompts(apps, None)
    assert not PromptTemplate.objects.exists()
    assert not PromptActivation.objects.exists()
    seed_migration.seed_prompts(apps, None)
    assert active_keys() == SEEDED_KEYS
