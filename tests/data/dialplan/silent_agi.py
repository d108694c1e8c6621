"""An AGI script that never sends a command: the engine's agi_timeout must end it."""

import time

time.sleep(60)
