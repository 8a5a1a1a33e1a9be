"""Registers the project's pytest plugin (--sdk, --budget, --replay, --db)."""

pytest_plugins = ["stateful_tests.plugin"]
