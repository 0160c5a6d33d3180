"""Operator tooling behind `werkplaatsen dlq` and `werkplaatsen status` (see docs/operations.md)."""
