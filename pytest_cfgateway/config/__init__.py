"""promptfoo config -> EvalCases. Knows nothing of pytest or the network."""
