"""Runs a command and appends "start end exit" (CLOCK_MONOTONIC seconds, the delay proxy's
clock) to a file, so a benchmark's time is the command's own and not a timer's start-up.
    timed.py TIMES_FILE COMMAND [ARG...]   (stdout and stderr are the command's; exits with its code)
"""
import subprocess
import sys
import time

times, command = sys.argv[1], sys.argv[2:]
start = time.monotonic()
code = subprocess.call(command)
end = time.monotonic()
with open(times, "a") as out:
    out.write(f"{start} {end} {code}\n")
sys.exit(code)
