"""Authentication primitives: password hashing and policy, TOTP, recovery codes, tokens.

Pure functions and classes only: storage, rate limiting and HTTP live elsewhere.
"""
