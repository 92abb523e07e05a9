"""The rule catalogue: one module per family of rules, each rule one SQL statement.

Importing this package registers every implementation in `base.REGISTRY`."""
