from services.registration.adapters import Base
from shared.migrations import run_env

run_env(Base.metadata)
