"""Errors a person can act on, kept apart from bugs.

Every class here carries a message written for the person at the keyboard: what went wrong and what
to do next. None of them ever includes a passphrase, a key or personal data, because messages end up
in dialogs, terminals and bug reports. Anything that is not one of these is a bug.
"""

from __future__ import annotations


class SimDeskError(Exception):
    """An error the user can act on. ``str(error)`` is the message to show them."""


class VaultNotFound(SimDeskError):
    """The vault file or its key-slot file is missing."""


class VaultExists(SimDeskError):
    """A vault is already at the place chosen for a new one."""


class AuthenticationFailed(SimDeskError):
    """Wrong user name, passphrase or recovery key."""


class VaultDamaged(SimDeskError):
    """The vault or its key slots cannot be read as they should: damage or tampering."""


class VaultBusy(SimDeskError):
    """Another window or command holds the vault, and this needs it alone (key rotation)."""


class PermissionDenied(SimDeskError):
    """The signed-in user's role does not allow this."""


class NotFound(SimDeskError):
    """A record that was asked for does not exist (or is not visible to this user)."""


class ValidationError(SimDeskError):
    """Input that cannot be saved as it is. Nothing was written.

    Attributes:
        field: the name of the field at fault, when there is one, so a form can point at it.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class VaultLocked(SimDeskError):
    """The vault was locked (idle timeout or on demand); unlock it again to go on."""
