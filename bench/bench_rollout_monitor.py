"""The canary monitor's rule on 1,000 simulated rollouts per scenario (no database, seeded, reproducible).

Each simulated call goes to the candidate with the rollout's share, fails with its arm's failure rate and
costs what a Sonnet call of a lognormal number of input tokens costs (an API failure costs nothing). The
rule (`evaluation.sequential.rollout_verdict`, with the default settings) looks after **every** call, the
worst case for a test that is looked at often, until it rolls the candidate back or promotes it.

Targets (issue 14): equal arms at a 5 % failure rate rolled back in ≤ 1 % of rollouts; a candidate failing
10 points more often detected in ≥ 95 %, with the median number of candidate calls it took.
"""

import random
import statistics
from collections import Counter
from dataclasses import dataclass

ROLLOUTS = 1000
SEED = 20261114
BASE_FAILURE_RATE = 0.05
SHARES = (0.2, 0.5)
# Sonnet 4.x list prices, USD per token.
INPUT_PRICE, OUTPUT_PRICE = 3e-6, 15e-6
# A third of failed calls are API failures (no tokens, no cost); the rest are unusable answers or reviews.
API_FAILURE_SHARE = 1 / 3


@dataclass
class Arm:
    failure_rate: float
    cost_factor: float = 1.0  # a candidate with a longer prompt or a dearer model
    calls: int = 0
    failures: int = 0
    cost: float = 0.0
    cost_squares: float = 0.0

    def call(self, rng):
        failed = rng.random() < self.failure_rate
        if failed and rng.random() < API_FAILURE_SHARE:
            cost = 0.0
        else:
            tokens_cost = rng.lognormvariate(7.1, 0.5) * INPUT_PRICE + rng.randint(80, 400) * OUTPUT_PRICE
            cost = tokens_cost * self.cost_factor
        self.calls += 1
        self.failures += failed
        self.cost += cost
        self.cost_squares += cost * cost
        return failed

    def figures(self):
        from evaluation.sequential import ArmFigures

        # A float total: the rule converts costs to floats for its statistics anyway.
        return ArmFigures(self.calls, self.failures, self.cost, self.cost_squares)


def simulate(rng, *, share, candidate, rule):
    """One rollout, looked at after every call; returns (verdict, candidate calls at the decision)."""
    from evaluation.sequential import CONTINUE, EarlyWindow, rollout_verdict

    baseline = Arm(BASE_FAILURE_RATE)
    early = EarlyWindow()
    while True:
        if rng.random() < share:
            candidate.call(rng)
            if candidate.calls <= rule.early_calls:
                early = EarlyWindow(candidate.calls, candidate.failures, baseline.calls, baseline.failures)
        else:
            baseline.call(rng)
        verdict = rollout_verdict(
            baseline=baseline.figures(), candidate=candidate.figures(), early=early, share=share, rule=rule
        )
        if verdict.action != CONTINUE:
            return verdict, candidate.calls


def scenario(label, *, share, candidate_rate, cost_factor=1.0, rule, seed):
    from evaluation.sequential import ROLL_BACK

    rng = random.Random(seed)
    rolled_back, triggers = [], Counter()
    for _ in range(ROLLOUTS):
        verdict, calls = simulate(rng, share=share, candidate=Arm(candidate_rate, cost_factor), rule=rule)
        if verdict.action == ROLL_BACK:
            rolled_back.append(calls)
            triggers[verdict.trigger] += 1
    rate = len(rolled_back) / ROLLOUTS
    if len(rolled_back) > 1:
        deciles = statistics.quantiles(rolled_back, n=10)
        calls = f"candidate calls to rollback: median {statistics.median(rolled_back):.0f}, p90 {deciles[-1]:.0f}"
    else:
        calls = "never rolled back"
    by = ", ".join(f"{trigger} {count}" for trigger, count in sorted(triggers.items()))
    print(f"   {label:<44} share {share:.0%}: rolled back {len(rolled_back):4d}/{ROLLOUTS} ({rate:6.1%}"
          f"{'; ' + by if by else ''}); {calls}")
    return rate


def main():
    from evaluation.sequential import RolloutRule

    rule = RolloutRule()
    print(f"   rule: alpha {rule.alpha}, promote after {rule.promote_after_calls} candidate calls, early rollback at "
          f"{rule.early_failures} of the first {rule.early_calls}, cost tolerance {rule.cost_tolerance:.0%}; "
          f"a look after every call; seed {SEED}")
    verdicts = []
    for offset, share in enumerate(SHARES):
        seed = SEED + 10 * offset
        false_alarms = scenario("equal arms, 5 % failures", share=share, candidate_rate=0.05, rule=rule, seed=seed)
        detected = scenario(
            "candidate 15 % failures vs 5 %", share=share, candidate_rate=0.15, rule=rule, seed=seed + 1
        )
        scenario("candidate 50 % dearer per call, 5 % failures", share=share, candidate_rate=0.05, cost_factor=1.5,
                 rule=rule, seed=seed + 2)
        verdicts.append((share, false_alarms <= 0.01, detected >= 0.95))
    for share, false_ok, detect_ok in verdicts:
        print(f"   targets at share {share:.0%}: false rollbacks ≤ 1 % {'OK' if false_ok else 'MISSED'}, "
              f"10-point regression detected ≥ 95 % {'OK' if detect_ok else 'MISSED'}")
