"""django-q2 entry points. Thin on purpose: each calls one service; all are safe to run twice."""

from evaluation import services


def check_rollouts():
    """Every minute: judge each running canary; returns the decisions taken."""
    return [f"{decision.rollout}: {decision.action} ({decision.reason})" for decision in services.rollouts_check()]
