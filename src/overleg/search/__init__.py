"""The keyed blind index and the search query language."""
