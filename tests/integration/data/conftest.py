"""Data for tests (old-format projects): never collected as tests themselves."""

collect_ignore_glob = ["*"]
