"""TEMPORARY diagnostics (not committed)."""
from bench import bench_experiments as b

DATABASES = ("postgresql",)
_orig = b.run_on_cluster


def run_on_cluster(env, evaluation_set, templates):
    from django.utils import timezone
    from django_q.models import Task
    from evaluation.models import ExperimentCaseResult
    t0 = timezone.now()
    wall, runs = _orig(env, evaluation_set, templates)
    def rel(t): return f"{(t - t0).total_seconds():6.2f}" if t else "  None"
    print("  wall", round(wall, 2), "workers", env["Q_WORKERS"])
    for r in runs:
        rows = ExperimentCaseResult.objects.filter(run=r)
        cl = sorted(rows.values_list("claimed_at", flat=True))
        fi = sorted(rows.values_list("finished_at", flat=True))
        print("  run", r.pk, "started", rel(r.started_at), "first claim", rel(cl[0]), "last claim", rel(cl[-1]),
              "first fin", rel(fi[0]), "last fin", rel(fi[-1]), "run finished", rel(r.finished_at))
    for t in Task.objects.filter(started__gte=t0).order_by("started"):
        print("  task", t.func, t.args, "started", rel(t.started), "stopped", rel(t.stopped))
    spans = list(ExperimentCaseResult.objects.filter(run__in=runs).values_list("claimed_at", "finished_at"))
    end = max(f for _, f in spans)
    line = []
    for s in range(0, int((end - t0).total_seconds() * 10) + 1):
        at = t0 + timezone.timedelta(seconds=s / 10)
        line.append(sum(1 for c, f in spans if c <= at < f))
    print("  busy per 0.1s:", " ".join(str(x) for x in line))
    gaps = []
    import collections
    return wall, runs


b.run_on_cluster = run_on_cluster
main = b.main
