"""Imports every model module so that ``Base.metadata`` knows every table."""

from overleg.audit import models as audit_models
from overleg.identity import models as identity_models
from overleg.kernel.crypto import models as crypto_models
from overleg.kernel.db.base import Base
from overleg.policy import models as policy_models
from overleg.security import models as security_models

metadata = Base.metadata
__all__ = [
    "audit_models",
    "crypto_models",
    "identity_models",
    "metadata",
    "policy_models",
    "security_models",
]
