"""Measuring the classifiers on labelled data (``inbox eval``)."""
