"""Siting rules: versioned rule sets, the catalogue of rule implementations (one module per
family), the evaluator that runs them set-based in PostGIS, and the stored verdicts."""
