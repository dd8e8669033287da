"""The notebooks' reading templates: one module per notebook (``readings.caa_vs_mhsa`` for
``06_caa_vs_mhsa``), each with a ``reading(...)`` function that takes the run's values and
returns the paragraph ``nbk.reading`` renders. A notebook's reading cell is then one call, and
the wording can be read, reviewed and tested without executing the notebook."""
