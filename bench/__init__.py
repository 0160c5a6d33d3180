"""The pipeline benchmark (`python -m bench`): the broker's own ceiling, a burst, latency at a steady rate,
notifications scaling and peak memory, measured in one run on real RabbitMQ, PostgreSQL and SMTP.
See docs/performance.md."""
