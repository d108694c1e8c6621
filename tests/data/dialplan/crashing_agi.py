"""An AGI script that dies half-way: the dialplan must see AGISTATUS=FAILURE."""

import sys

sys.stdin.readline()  # the first environment line is enough
sys.stdout.write("ANSWER\n")
sys.stdout.flush()
raise SystemExit(3)
