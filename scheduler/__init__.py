"""The systems under test and how they are wired to the deterministic runtime."""
