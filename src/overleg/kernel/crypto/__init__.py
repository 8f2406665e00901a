"""Envelope encryption at rest: per-tenant KEKs in a key provider, wrapped DEKs in the DB.

Start with ``KeyService`` (``keys``); ``envelope`` is the ciphertext format; providers live
in ``providers`` (``local`` keyring file, ``pkcs11`` HSM).
"""
