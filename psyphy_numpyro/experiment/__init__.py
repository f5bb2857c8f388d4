"""(Experimental) Adaptive experiments: ask/tell sessions stored in SQLite.

:mod:`.session` holds :class:`ExperimentSession`, the loop a lab drives from
its presentation code; :mod:`.store` the session's SQLite file.
"""

from psyphy_numpyro.experiment.session import ExperimentSession
from psyphy_numpyro.experiment.store import SessionInUseError, SessionStore

__all__ = ["ExperimentSession", "SessionInUseError", "SessionStore"]
