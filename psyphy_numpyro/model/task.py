"""The tasks under the seed releases' module path, ``psyphy.model.task``.

psyphy's first releases kept their tasks in ``psyphy.model.task``; psyphy 0.0.5
moved them to ``psyphy.model.likelihood``. Both paths give the same classes,
so seed-era scripts port by their import lines too.
"""

from psyphy_numpyro.model.likelihood import OddityTask, TaskLikelihood, TwoAFC

__all__ = ["OddityTask", "TaskLikelihood", "TwoAFC"]
