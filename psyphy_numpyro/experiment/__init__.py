"""(Experimental) Adaptive experiments: ask/tell sessions stored in SQLite.

:mod:`.session` holds :class:`ExperimentSession`, the loop a lab drives from
its presentation code, and :func:`read_session`, which reads a session's file
for analysis; :mod:`.store` the session's SQLite file.
"""

from psyphy_numpyro.experiment.session import (
    ExperimentSession,
    SessionRecord,
    read_session,
)
from psyphy_numpyro.experiment.store import SessionInUseError, SessionStore

__all__ = [
    "ExperimentSession",
    "SessionInUseError",
    "SessionRecord",
    "SessionStore",
    "read_session",
]
