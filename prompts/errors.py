"""Exceptions the prompts app raises to its callers."""


class PromptError(Exception):
    """Base class for prompt management errors."""


class NoActivePrompt(PromptError, LookupError):
    """No version of the requested prompt is active."""

    def __init__(self, task_type, name):
        self.task_type = task_type
        self.name = name
        super().__init__(f"No active version of prompt {task_type}.{name}.")


class TemplateRenderError(PromptError, ValueError):
    """A template could not be rendered: a missing variable, a construct outside the prompt template
    language, a value that is not plain, or a render limit."""


class ImmutableVersionError(PromptError):
    """Someone tried to change a saved prompt version; changes need a new version."""


class RollbackUnavailable(PromptError):
    """There is no earlier version to roll back to."""
