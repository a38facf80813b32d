"""Hash-chained audit log.

Each entry holds SHA-256 over the previous entry's hash and its own canonical content, so editing,
deleting or reordering any row breaks the chain from that row on. A copy of the newest (seq, hash)
is kept in a file beside the database: someone with the record key who rewrites the whole chain
still cannot make it end where the copy says it ends.

Entries carry ids, action names and codes only. ``detail`` is checked so that free text (which is
where personal data would hide) cannot get in.
"""

from sim_desk.records.vault.audit.chain import (
    GENESIS,
    Action,
    ChainReport,
    append,
    canonical_content,
    chain_hash,
    clean_detail,
    verify_chain,
)
from sim_desk.records.vault.audit.head import (
    HEAD_BEFORE,
    AnchorFinding,
    AuditHead,
    HeadCopy,
    check_anchor,
    check_anchor_of,
    current_head,
    head_bytes,
    pending_end,
    read_head,
    write_head,
)

__all__ = [
    "GENESIS",
    "HEAD_BEFORE",
    "Action",
    "AnchorFinding",
    "AuditHead",
    "ChainReport",
    "HeadCopy",
    "append",
    "canonical_content",
    "chain_hash",
    "check_anchor",
    "check_anchor_of",
    "clean_detail",
    "current_head",
    "head_bytes",
    "pending_end",
    "read_head",
    "verify_chain",
    "write_head",
]
