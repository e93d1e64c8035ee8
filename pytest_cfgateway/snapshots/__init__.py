"""Record and replay through syrupy; the only package that decides whether a call goes out."""
