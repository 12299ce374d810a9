from tutela.guard.stream import GuardedBatch, StreamGuard  # noqa: F401  (stream guard)
