"""Connectors: plan, dry-run, retrieve and erase a batch of subjects in one store, set-based."""
