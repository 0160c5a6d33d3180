from frontends.console.store.tables import Base
from shared.migrations import run_env

run_env(Base.metadata)
