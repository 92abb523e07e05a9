"""Importers for the official formats of the health layers, one module per format. Each reads
the whole file, reports every bad row as `{row, field, reason}`, and writes nothing unless
every row is good; a good file becomes the new current vintage of its layer."""
