"""A first program for boxpy: shows what the sandbox lets it see and do."""

import os
import socket
import sys

print(f"hello from Python {sys.version.split()[0]} in {os.getcwd()}")
print(f"HOME is {os.environ['HOME']} and holds {sorted(os.listdir(os.environ['HOME']))}")

with open("/tmp/scratch.txt", "w") as scratch:
    scratch.write("private /tmp is writable\n")
print("wrote /tmp/scratch.txt (the sandbox's own /tmp, gone when it ends)")

for path in ("/etc/shadow", os.path.expanduser("~/.ssh")):
    print(f"{path} visible: {os.path.exists(path)}")

try:
    socket.create_connection(("example.com", 80), timeout=2)
    print("network: reachable")
except OSError as error:
    print(f"network: blocked ({error.__class__.__name__})")
