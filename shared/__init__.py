"""The message contract and the plumbing every service shares. No business rules live here."""
