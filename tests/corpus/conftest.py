"""The real-world config corpus is data, not tests: nothing under it is collected."""

collect_ignore_glob = ["*"]
