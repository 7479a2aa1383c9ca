"""The study layer: study files, work units, checkpoints, executors, results and figures.

* :mod:`.spec` reads and validates a study TOML file into a :class:`~.spec.StudySpec`;
  :mod:`.sections` the sections several kinds share;
* :mod:`.kinds` one module per study kind, found through one registry (:data:`.kinds.KINDS`);
* :mod:`.keydocs` the descriptions of the shared keys, :mod:`.reference` the study-file
  reference generated from the kinds' declarations;
* :mod:`.accuracy` the error budget of approximate evolutions (Trotter step doubling, MPS bond
  doubling);
* :mod:`.runner` runs a spec unit by unit (:func:`~.runner.run_study`);
* :mod:`.executor` serial or Dask execution of independent units; :mod:`.checkpoint` resumable
  per-unit files; :mod:`.results` NetCDF files written atomically;
* :mod:`.drawing` shared figure helpers, :mod:`.figures` figures of a results file,
  :mod:`.analysis` kept fractions and fits, :mod:`.reports` the ``echo-lab lbits`` report.
"""
