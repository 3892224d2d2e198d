"""Warm `get_active_prompt(...).render(...)` against an uncached fetch + compile + render.

Target (foundation issue): warm ≤ 25 µs and at least 40× faster than uncached.
"""

from devtools.timing import median_seconds

VARIABLES = {
    "subject": "AW: Vergleichsangebot Ihr Zeichen 2025/4711 – Mandant Müller",
    "truncated_body": "Sehr geehrte Damen und Herren, wir stimmen dem Vergleich über 1.234,56 € zu. " * 20,
}


def main():
    from prompts import rendering
    from prompts.models import PromptTemplate
    from prompts.selectors import clear_active_prompt_cache, get_active_prompt

    clear_active_prompt_cache()

    def warm():
        get_active_prompt("classification", "email_intent").render(VARIABLES)

    def uncached():
        template = PromptTemplate.objects.get(task_type="classification", name="email_intent", is_active=True)
        # from_string bypasses the per-process compile cache on purpose.
        rendering._environment.from_string(template.user_prompt_template).render(VARIABLES)

    warm_median = median_seconds(warm, repeat=20000, warmup=1000)
    uncached_median = median_seconds(uncached, repeat=500, warmup=20)
    print(f"   warm get_active_prompt().render():   {warm_median * 1e6:8.1f} µs (median of 20000)")
    print(f"   uncached fetch + compile + render:   {uncached_median * 1e6:8.1f} µs (median of 500)")
    print(f"   ratio uncached / warm:               {uncached_median / warm_median:8.1f}×")
    print(f"   targets: warm ≤ 25 µs {'OK' if warm_median <= 25e-6 else 'MISSED'}, "
          f"ratio ≥ 40× {'OK' if uncached_median / warm_median >= 40 else 'MISSED'}")
