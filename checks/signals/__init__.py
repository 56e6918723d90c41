"""Hash kinds: each computes, validates and compares itself."""

from checks.signals.base import Comparison, HashKind, hamming_hex
from checks.signals.fingerprint import Fingerprint, compute_fingerprint
from checks.signals.pdq import PDQ_MIN_QUALITY, PDQ_THRESHOLD, Pdq, PdqResult
from checks.signals.phash import PHASH_THRESHOLD, Phash
from checks.signals.registry import HASH_KINDS, get_kind, register
from checks.signals.sha256 import Sha256

__all__ = [
    "HASH_KINDS",
    "PDQ_MIN_QUALITY",
    "PDQ_THRESHOLD",
    "PHASH_THRESHOLD",
    "Comparison",
    "Fingerprint",
    "HashKind",
    "Pdq",
    "PdqResult",
    "Phash",
    "Sha256",
    "compute_fingerprint",
    "get_kind",
    "hamming_hex",
    "register",
]
