"""Imports every model module so that ``Base.metadata`` knows every table."""

from overleg.audit import models as audit_models
from overleg.files import models as files_models
from overleg.identity import models as identity_models
from overleg.kernel.crypto import models as crypto_models
from overleg.kernel.db.base import Base
from overleg.meetings import models as meetings_models
from overleg.messaging import models as messaging_models
from overleg.policy import models as policy_models
from overleg.realtime import models as realtime_models
from overleg.search import models as search_models
from overleg.security import models as security_models
from overleg.threat import models as threat_models
from overleg.workspace import models as workspace_models

metadata = Base.metadata
__all__ = [
    "audit_models",
    "crypto_models",
    "files_models",
    "identity_models",
    "meetings_models",
    "messaging_models",
    "metadata",
    "policy_models",
    "realtime_models",
    "search_models",
    "security_models",
    "threat_models",
    "workspace_models",
]
