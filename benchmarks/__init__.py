"""`make bench`: the performance suite. Every figure is a ratio against a reference measured in the same run."""
