"""Bulk import of cabins: the flat CSV columns, body parsing, the staging table and its
set-based statements, the import job and its report."""
