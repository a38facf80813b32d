"""Errors of the team server that a person can act on (see sim_desk.records.errors).

Messages never carry a password, a one-time secret, a credential or a row's values: they end
up in terminals, dialogs and bug reports.
"""

from __future__ import annotations

from sim_desk.records.errors import AuthenticationFailed, PermissionDenied, SimDeskError


class ServerError(SimDeskError):
    """Something about the team server, said in words for the person at the keyboard."""


class ServerUnreachable(ServerError):
    """The server could not be reached, or its certificate was not the trust's."""


class ServerLoginFailed(AuthenticationFailed):
    """The server refused this device's (or this invitation's) credential."""


class ServerRefused(PermissionDenied):
    """The server refused the request for this login: not a lead, revoked, or similar."""


class ServerNotReady(ServerError):
    """The server has no SIM Desk schema yet, or one this version does not know."""


class ServerAlreadySetUp(ServerError):
    """``server init`` on a database that already holds a team."""


class InvitationInvalid(ServerError):
    """An invitation file that cannot be used: damaged, expired, used or for another vault."""


class NotJoined(ServerError):
    """This vault has no device credential for a team server yet."""


class IncompatibleServer(ServerError):
    """The server speaks another sync protocol than this version of SIM Desk."""


class ClockWrong(ServerError):
    """This laptop's clock is too far ahead of the server's for its changes to be accepted."""
