"""The organiser console (issue 17): personal accounts with roles, personal access tokens and an append-only audit
log, in a store of its own. A front end like the chat's: it reaches the services only through their query APIs and
the commands it publishes, never through their code or tables."""
