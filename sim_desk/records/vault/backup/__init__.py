"""Backups: one self-contained, encrypted file; restored only to a new place.

A backup is a zip (stored, not compressed: everything in it is already encrypted or holds no
secret) of:

* ``database``: a consistent copy of the SQLCipher database, still encrypted under the record key.
  It is made with ``sqlcipher_export`` inside one read transaction, so the app may go on writing
  (WAL readers never block the writer), and it is checked with ``integrity_check`` and
  ``cipher_integrity_check`` before it goes into the file;
* ``keyslots``: the key-slot file of the same key generation, so the backup opens with the same
  passphrases and the recovery key as the vault did when it was made;
* ``audit-head``: the audit head copy matching the copied audit log;
* ``manifest.json``: format, vault id, time, key generation, schema revision, row counts (numbers
  only, never personal data) and the SHA-256 and size of every member.

The manifest hashes catch damage (a bad disk, a truncated download) without any key; deliberate
tampering with the database is caught by SQLCipher's page HMACs and the audit chain at unlock.
"""

from sim_desk.records.vault.backup.making import (
    BACKUP_FORMAT,
    BACKUP_VERSION,
    CHUNK,
    MANIFEST,
    MEMBERS,
    BackupInfo,
    backup_info,
    backup_vault,
    create_private,
    removing,
    tell,
)
from sim_desk.records.vault.backup.restoring import (
    read_backup,
    restore_backup,
)

__all__ = [
    "BACKUP_FORMAT",
    "BACKUP_VERSION",
    "CHUNK",
    "MANIFEST",
    "MEMBERS",
    "BackupInfo",
    "backup_info",
    "backup_vault",
    "create_private",
    "read_backup",
    "removing",
    "restore_backup",
    "tell",
]
