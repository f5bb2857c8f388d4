"""The functional core: the WPPM's maths and inference over arrays and frozen records.

Nothing here imports the layer above (``model``, ``inference``, ``posterior``,
``data``, ``trial_placement``, ``viz``): functions take a
:class:`~psyphy_numpyro.core.spec.WPPMSpec` (or anything with its methods,
such as a ``WPPM``) and arrays, and return arrays and NamedTuples.

- the model: :mod:`.spec`, :mod:`.prior`, :mod:`.tasks`, :mod:`.links`,
  :mod:`.noise`, :mod:`.basis`, :mod:`.covariance`, :mod:`.oddity`,
  :mod:`.numpyro_model`;
- data: :mod:`.trials`, :mod:`.simulate`, :mod:`.design`;
- inference: :mod:`.infer`, :mod:`.gauge`, :mod:`.keys`;
- readouts: :mod:`.readouts`, :mod:`.draws`, :mod:`.bands`, :mod:`.intervals`;
- output and checks: :mod:`.idata`, :mod:`.checks`, :mod:`.chunks`.
"""
