"""The registry of cabins: model, schemas, validation, the write path, lifecycle, routes."""
