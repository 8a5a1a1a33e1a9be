"""Small threaded programs written against the real stdlib, for the runtime's own tests."""
