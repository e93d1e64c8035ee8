"""The Cloudflare AI Gateway client. Knows nothing of pytest."""
