"""An unlocked vault: the unit of work every use case runs in.

One object carries what a use case needs: who is signed in (the actor), the engine, the keys, the
clock. The GUI, the command line and the tests all get one from
:mod:`sim_desk.records.vault.unlock` and
pass it to the same use-case functions.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from sim_desk.records import clinical_epochs, write_path
from sim_desk.records.codes import Role
from sim_desk.records.errors import PermissionDenied, VaultDamaged, VaultLocked
from sim_desk.records.vault import audit
from sim_desk.records.vault.files import VaultKeys, VaultPaths
from sim_desk.records.vault.store import DAMAGED_DATABASE, is_damage, make_engine, session_factories
from sim_desk.records.write_path import RowWrite

log = logging.getLogger(__name__)

#: Long operations (backup, restore, key rotation) report (fraction done 0..1, what is happening).
Progress = Callable[[float, str], None]

#: Dates people see and "today" are UK dates; storage is UTC.
LOCAL_ZONE = ZoneInfo("Europe/London")


#: Since 1972 UK time has been UTC or UTC+1 (BST), so a UTC moment before 23:00 falls on the
#: same UK date; only the hour before midnight needs the time-zone rules.
_UK_OFFSETS_AT_MOST_ONE_HOUR_SINCE = 1972


def local_date(moment: datetime) -> date:
    """The UK calendar date of a stored (UTC) moment."""
    if (
        moment.tzinfo is UTC
        and moment.hour < 23
        and moment.year >= _UK_OFFSETS_AT_MOST_ONE_HOUR_SINCE
    ):
        return moment.date()  # a cohort report asks this hundreds of thousands of times
    return moment.astimezone(LOCAL_ZONE).date()


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Actor:
    """Who is signed in. ``user_id`` is None when the recovery key was used."""

    user_id: uuid.UUID | None
    username: str
    display_name: str
    role: Role
    clinical: bool
    pair_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)

    @property
    def is_recovery(self) -> bool:
        return self.user_id is None


def _clinical_bound(bound_to: uuid.UUID) -> bytes:
    return b"sim-desk-clinical|" + bound_to.bytes


def seal_clinical(clinical_key: bytes, plaintext: bytes, bound_to: uuid.UUID) -> bytes:
    """AES-256-GCM under the clinical key, bound to the record it belongs to (no swapping)."""
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(clinical_key).encrypt(nonce, plaintext, _clinical_bound(bound_to))


def open_clinical(clinical_key: bytes, blob: bytes, bound_to: uuid.UUID) -> bytes:
    try:
        return AESGCM(clinical_key).decrypt(blob[:12], blob[12:], _clinical_bound(bound_to))
    except InvalidTag:
        raise VaultDamaged(
            "A clinician-only note cannot be decrypted: it was damaged or moved between"
            " records. Restore from a backup, or ask your team lead to run 'sim-desk verify'."
        ) from None


class UnlockedVault:
    """An open vault for one signed-in user. Call :meth:`lock` to close it and drop the keys."""

    def __init__(
        self,
        paths: VaultPaths,
        keys: VaultKeys,
        engine: Engine,
        actor: Actor,
        *,
        clock: Callable[[], datetime] = system_clock,
    ) -> None:
        self.paths = paths
        self.vault_id = keys.vault_id
        self.actor = actor
        self.clock = clock
        self._engine: Engine | None = engine
        self._record_key = bytearray(keys.record_key)
        self._clinical_key = bytearray(keys.clinical_key) if keys.clinical_key else None
        self._owner_secret = bytearray(keys.owner_secret) if keys.owner_secret else None
        self._reader, self._writer = self._sessions(engine)
        self._local = threading.local()
        #: Called with (session, rows written) just before each write transaction commits, in
        #: it: the place for anything that must commit with every change (see write_path).
        self.write_observers: list[Callable[[Session, Sequence[RowWrite]], None]] = []
        #: Called with (session, table, ids) just before rows are changed (see write_path).
        self.before_change_observers: list[write_path.BeforeChange] = []
        #: Values derived from records that a use case may keep between calls while this
        #: sign-in lasts (the search keys of names, for the caseload search): emptied on lock.
        self.cache: dict[str, Any] = {}
        #: What unlocking found wrong before it wrote anything (the audit log and its head
        #: copy disagreeing), in words; also kept in the audit log. Shown at once by the app.
        self.opening_findings: tuple[str, ...] = ()

    @staticmethod
    def _sessions(engine: Engine) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
        reader, writer = session_factories(engine)
        write_path.record_writes(writer)
        write_path.guard(engine)
        return reader, writer

    # -- time -------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def today(self) -> date:
        return self.clock().astimezone(LOCAL_ZONE).date()

    # -- sessions ---------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise VaultLocked("The vault is locked. Unlock it to go on.")
        return self._engine

    @property
    def record_key(self) -> bytes:
        """For maintenance only (backup, integrity checks): use cases never need it."""
        if self._engine is None:
            raise VaultLocked("The vault is locked. Unlock it to go on.")
        return bytes(self._record_key)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (deferred transaction; readers never block the writer in WAL).

        Inside :meth:`batch` it is the batch's own session, so a use case reads what the
        batch has written so far.
        """
        self.engine  # noqa: B018 - raises VaultLocked when locked
        shared = getattr(self._local, "batch", None)
        if shared is not None:
            yield shared
            return
        with self._reader() as session:
            try:
                yield session
            except DatabaseError as exc:
                _discard(session, damaged=is_damage(exc))
                if is_damage(exc):
                    raise VaultDamaged(DAMAGED_DATABASE) from exc
                raise
            except BaseException:
                _discard(session)
                raise
            else:
                session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write session: BEGIN IMMEDIATE, commit on success, roll back on any error.

        Audit entries appended inside it commit with the change they describe, or not at all.
        The head copy beside the database learns where the chain will end just before the
        commit, and that it ends there just after (see ``audit.HeadCopy``). Inside
        :meth:`batch`, the batch's session is reused and nothing commits until the batch ends.
        """
        self.engine  # noqa: B018 - raises VaultLocked when locked
        shared = getattr(self._local, "batch", None)
        if shared is not None:
            recorder = write_path.recorder_of(shared)
            mark = recorder.mark() if recorder is not None else 0
            try:
                with shared.begin_nested():  # a savepoint: one failed use case undoes only itself
                    yield shared
            except BaseException:
                if recorder is not None:
                    recorder.roll_back_to(mark)
                raise
            return
        with (
            self._writer() as session,
            write_path.recording(session, self.before_change_observers) as recorder,
        ):
            try:
                yield session
                session.flush()
                rows = recorder.rows if self.write_observers else []
                if rows:  # (listed once: a first sync writes a million)
                    for observer in self.write_observers:
                        observer(session, rows)
                    session.flush()
                ends = audit.pending_end(session)
                if ends is not None:  # under the write lock, before the commit
                    audit.write_head(self.paths, ends[0], pending=ends[1])
                session.commit()
            except DatabaseError as exc:
                _discard(session, damaged=is_damage(exc))
                if is_damage(exc):
                    raise VaultDamaged(DAMAGED_DATABASE) from exc
                raise
            except BaseException:
                _discard(session)
                raise
        if ends is not None:
            self._settle_head(ends[1])

    def _settle_head(self, end: audit.AuditHead | None) -> None:
        """After a commit: the head copy says the chain ends at ``end``, unless another writer
        has committed since (its own update then speaks for both). Takes the write lock again,
        so no other writer's head update can land in between and be overwritten."""
        try:
            with self.engine.execution_options(write=True).begin() as conn:
                if audit.current_head(conn) == end:
                    audit.write_head(self.paths, end)
        except Exception:  # committed already; the copy then says the write is "in flight"
            log.warning("the audit head copy was not brought up to date after a commit")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Runs many use cases as one transaction: all of them commit, or none do.

        Used by imports (all-or-nothing) and by bulk builders (one fsync, not thousands).
        """
        if getattr(self._local, "batch", None) is not None:
            raise RuntimeError("batches do not nest")
        with self.write() as session:
            self._local.batch = session
            try:
                yield
            finally:
                self._local.batch = None

    def audit(
        self,
        session: Session,
        action: str,
        entity_type: str | None = None,
        entity_id: uuid.UUID | None = None,
        **detail: Any,
    ) -> None:
        """Appends an audit entry in this session's transaction."""
        audit.append(
            session,
            at=self.now(),
            user_id=self.actor.user_id,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            detail={**detail, "recovery": True} if self.actor.is_recovery else detail,
        )

    # -- roles ------------------------------------------------------------------------------
    def require_role(self, *roles: Role, doing: str) -> None:
        if self.actor.role not in roles:
            allowed = " or ".join(r.label.lower() for r in roles)
            raise PermissionDenied(
                f"Only a {allowed} can {doing}. You are signed in as"
                f" {self.actor.role.label.lower()}."
            )

    @property
    def owner_secret(self) -> bytes | None:
        """The signed-in slot owner's own secret (see ``VaultKeys.owner_secret``), for data
        sealed to this user alone (``records.drafts``); None for a first-release slot."""
        self.engine  # noqa: B018 - raises VaultLocked when locked
        return bytes(self._owner_secret) if self._owner_secret is not None else None

    @property
    def has_clinical_key(self) -> bool:
        return self._clinical_key is not None

    def keys_to_wrap(self, *, clinical: bool) -> tuple[bytes, bytes | None]:
        """The keys a new or renewed key slot should hold (user management only).

        Raises:
            PermissionDenied: clinical access is asked for but this sign-in lacks the key.
        """
        if clinical and self._clinical_key is None:
            raise PermissionDenied(
                "Only a clinical lead (or the recovery key) can give someone clinical access:"
                " the clinical key must be wrapped into their key slot."
            )
        clinical_key = bytes(self._clinical_key) if clinical and self._clinical_key else None
        return self.record_key, clinical_key

    # -- clinical notes ---------------------------------------------------------------------
    def _clinical_key_for(self, doing: str) -> bytes:
        if self._clinical_key is None:
            raise PermissionDenied(
                f"Only clinicians and clinical leads can {doing}: clinician-only notes are"
                " encrypted with a key your sign-in does not hold."
            )
        return bytes(self._clinical_key)

    def encrypt_clinical(self, text: str, bound_to: uuid.UUID) -> bytes:
        """Encrypts clinician-only text, bound to the record it belongs to (no swapping):
        under the team's current key epoch once this vault has one (clinical_epochs)."""
        key = self._clinical_key_for("write clinician-only notes")
        ring = self.clinical_keyring()
        if ring.current is not None:
            return clinical_epochs.seal_framed(
                ring.keys[ring.current], ring.current, text.encode("utf-8"), bound_to
            )
        return seal_clinical(key, text.encode("utf-8"), bound_to)

    def decrypt_clinical(self, blob: bytes, bound_to: uuid.UUID) -> str:
        key = self._clinical_key_for("read clinician-only notes")
        plain = clinical_epochs.open_any(key, self.clinical_keyring(), blob, bound_to)
        if plain is None:
            return open_clinical(key, blob, bound_to).decode("utf-8")  # raises VaultDamaged
        return plain.decode("utf-8")

    def clinical_keyring(self) -> clinical_epochs.Keyring:
        """The team's clinical key epochs held here, read once per sign-in (and again after
        :meth:`forget_clinical_keyring`)."""
        if self._clinical_key is None:
            return clinical_epochs.EMPTY
        ring = self.cache.get("clinical_keyring")
        if ring is None:
            with self.read() as session:
                ring = clinical_epochs.load_keyring(session, bytes(self._clinical_key))
            self.cache["clinical_keyring"] = ring
        return ring  # type: ignore[no-any-return]

    def forget_clinical_keyring(self) -> None:
        self.cache.pop("clinical_keyring", None)

    def close_connections(self) -> None:
        """Closes the connections kept open between use cases (``store.make_engine`` pools a
        few); the next use case opens fresh ones. Re-encrypting the file needs it to itself."""
        self.engine.dispose()

    def replace_keys(self, record_key: bytes, clinical_key: bytes | None) -> None:
        """Goes on with new keys after a key rotation (key management only): the engine is
        rebuilt so that every new connection uses the new record key."""
        engine = self.engine
        engine.dispose()
        self._engine = make_engine(self.paths.database, record_key)
        self._reader, self._writer = self._sessions(self._engine)
        for old in (self._record_key, self._clinical_key):
            if old is not None:
                old[:] = bytes(len(old))
        self._record_key = bytearray(record_key)
        self._clinical_key = bytearray(clinical_key) if clinical_key else None
        self.forget_clinical_keyring()

    # -- locking ----------------------------------------------------------------------------
    @property
    def is_locked(self) -> bool:
        return self._engine is None

    def lock(self, *, quietly: bool = False) -> None:
        """Audits the lock, closes every connection and drops the keys. Safe to call twice.

        With ``quietly``, a lock whose audit entry cannot be written (a damaged vault) still
        closes and drops the keys, without raising: an error already on its way out is the one
        to report.
        """
        if self._engine is None:
            return
        try:
            with self.write() as session:
                self.audit(session, audit.Action.LOCK)
        except Exception:
            if not quietly:
                raise
            log.warning("the lock could not be audited")
        finally:
            self.cache.clear()
            self._engine.dispose()
            self._engine = None
            # Best effort: Python may hold copies, but we drop every reference we own.
            for key in (self._record_key, self._clinical_key, self._owner_secret):
                if key is not None:
                    key[:] = bytes(len(key))
            self._clinical_key = None
            self._owner_secret = None

    def __enter__(self) -> UnlockedVault:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.lock(quietly=exc_type is not None)


def _discard(session: Session, *, damaged: bool = False) -> None:
    """Ends a failed session. After SQLCipher meets a page that fails its HMAC, the connection
    stays unusable (even a rollback or the next BEGIN says "attempt to write a readonly
    database"), so it is closed rather than put back in the pool for the next use case, whose
    error would then hide the damage."""
    if damaged:
        with contextlib.suppress(Exception):
            if session.in_transaction():
                session.connection().invalidate()  # before the rollback hands it back
    try:
        session.rollback()
    except DatabaseError:
        with contextlib.suppress(Exception):
            session.close()
