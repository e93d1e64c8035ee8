"""The pytest side of the plugin, one module per step of a run (see docs/architecture.md):
settings -> targets/items (collection) -> schedule -> render, binding, case (one test) ->
record -> outcome/report. Each module imports only the ones before it."""
