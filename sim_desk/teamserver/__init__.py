"""The team server: a trust's PostgreSQL that SIM Desk laptops sync through (DESIGN.md §11).

Part 1 (this package so far): the server's schema and its security, the administrator's
commands (``server init``, ``status``, ``invite``, ``revoke``), joining a laptop to a team, and
the client connection with its device credential. No Qt here: the app and the command line
call these use cases the same way.
"""
