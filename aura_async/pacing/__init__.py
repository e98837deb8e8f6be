"""Pacing: the rate limiter, the retry policy, what the run learns of the server's throttling."""
