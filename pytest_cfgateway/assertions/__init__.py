"""promptfoo assertion types and scoring."""
