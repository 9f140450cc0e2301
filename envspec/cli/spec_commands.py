"""Commands over the pure part of the pipeline: init, validate, render, schema, explain, lock."""
