"""Malware scanning of uploaded files: ClamAV (clamd), YARA rules, Office macros, archives.

The files domain calls ``pipeline.scan`` with a way to stream a file's plaintext and gets a
``ScanResult`` (clean, infected or failed, with findings); ``ScannerUnavailable`` means
"try again later". ``signatures.fingerprint`` tells when the databases changed (rescan).
``clamd_process`` runs Overleg's private clamd. See docs/scanning.md.
"""

from overleg.files.scanning.clamd import ScannerUnavailable
from overleg.files.scanning.pipeline import Finding, MacroPolicy, ScanResult, scan
from overleg.files.scanning.signatures import fingerprint

__all__ = ["Finding", "MacroPolicy", "ScanResult", "ScannerUnavailable", "fingerprint", "scan"]
