"""Which arm of a canary serves a call: a stable split of routing keys (the e-mail's id).

A key's bucket is the first 8 bytes of SHA-256 over "<rollout id>:<key>", modulo 10,000: the same e-mail
always lands in the same arm of a rollout (reprocessing included), every process agrees without sharing
state, and each rollout draws its own e-mails (a new canary does not reuse the last one's guinea pigs).
"""

import hashlib

BUCKETS = 10_000


def routing_bucket(routing_key, *, salt):
    """The key's bucket in [0, BUCKETS) for one rollout (`salt`)."""
    digest = hashlib.sha256(f"{salt}:{routing_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def routes_to_candidate(routing_key, *, rollout_id, percent):
    """True when the candidate of rollout `rollout_id` serving `percent` % serves this key."""
    return routing_bucket(routing_key, salt=rollout_id) < percent * BUCKETS // 100
