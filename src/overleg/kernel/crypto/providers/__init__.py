"""Key providers: where tenant key-encryption keys (KEKs) live.

``local`` keeps them in a keyring file encrypted under a master key; ``pkcs11`` keeps them
inside an HSM token, from which they never leave.
"""
