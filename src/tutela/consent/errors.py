"""Consent errors, within Tutela's one tree (tutela.errors):

    InputError
    └── ConsentRefused      the actor may not do this (HTTP 403, CLI exit 3): an unlinked or
                            unverified adult loosening a child's settings, a method that cannot
                            grant a scope, a grant that is not there to revoke
    InputError              a bad, used or expired link (one message for all three), bad input
"""

from __future__ import annotations

from tutela.errors import InputError


class ConsentRefused(InputError):
    """The actor is not allowed to do what was asked; nothing was changed."""
