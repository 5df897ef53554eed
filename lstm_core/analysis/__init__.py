"""What a trace says about a model: diagnostics, the unit finder, interventions (what-if clamps)."""
