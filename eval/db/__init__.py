"""Database backends behind one interface (see :mod:`eval.db.base`)."""
