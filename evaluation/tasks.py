"""django-q2 entry points. Thin on purpose: each calls one service; all are safe to run twice."""

from evaluation import services


def check_rollouts():
    """Every minute: judge each running canary; returns the decisions taken."""
    return [f"{decision.rollout}: {decision.action} ({decision.reason})" for decision in services.rollouts_check()]


def run_experiment(run_id):
    """Run (or resume) an experiment; returns its status, or None when it had ended already."""
    run = services.experiment_execute(run_id=run_id)
    return run.status if run is not None else None


def resume_experiments():
    """Every minute: queue again the experiments whose worker was killed; returns their ids."""
    return services.experiments_resume_stale()
