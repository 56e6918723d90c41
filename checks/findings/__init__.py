"""Coded findings: the facts about a file worth a line on the verdict card.

The rules are grouped by what they tell: :mod:`~checks.findings.provenance` (edits, thumbnail,
AI, C2PA), :mod:`~checks.findings.privacy`, :mod:`~checks.findings.dates`,
:mod:`~checks.findings.platform` and :mod:`~checks.findings.reliability`;
:func:`derive_findings` applies them all.
"""

from checks.findings.derive import derive_findings
from checks.findings.model import Finding, FindingCode, Severity
from checks.findings.platform import PLATFORM_LONG_SIDES
from checks.findings.provenance import EDITOR_NAMES

__all__ = [
    "EDITOR_NAMES",
    "PLATFORM_LONG_SIDES",
    "Finding",
    "FindingCode",
    "Severity",
    "derive_findings",
]
