"""Development tools, not part of the product: the fake Anthropic API and its fake model, throw-away
databases, qcluster processes for tests, the soak run and the benchmark runner. Never in INSTALLED_APPS.
"""
