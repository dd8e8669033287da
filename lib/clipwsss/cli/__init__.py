"""Layer 5: the ``clipwsss`` command line (``clipwsss cams | masks | eval``)."""
