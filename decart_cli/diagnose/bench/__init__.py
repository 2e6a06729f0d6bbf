"""Measuring a session: frame markers, latency, throughput, quality."""
