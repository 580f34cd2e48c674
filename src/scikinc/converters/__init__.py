"""Built-in converters.  Every module in this package is imported the first
time a converter is looked up, and registers its converters on import."""
