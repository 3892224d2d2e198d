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


class ActivationBlocked(PromptError):
    """The activation gate (PROMPT_ACTIVATION_VALIDATORS) refused a version; `reasons` says why, one per validator."""

    def __init__(self, reasons):
        self.reasons = [reasons] if isinstance(reasons, str) else list(reasons)
        super().__init__("; ".join(self.reasons))


class ReleaseRefused(PromptError, ValueError):
    """A request, approval or canary that breaks a release rule (self-approval, a second pending request, ...)."""
