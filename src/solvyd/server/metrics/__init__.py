"""The server's Prometheus metrics (docs/metrics.md): one registry per app, the counters the
services move, the gauges read from the database at scrape time, and the own-port listener."""
