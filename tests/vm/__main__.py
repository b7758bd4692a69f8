"""`python -m tests.vm 'SCRIPT'`: boot the guest with this repository shared, run SCRIPT, print the console."""
import sys
from pathlib import Path

from tests.vm import Guest

repo = Path(__file__).resolve().parents[2]
result = Guest.prepare().run(sys.argv[1] if len(sys.argv) > 1 else "uname -a; cat /proc/self/mountinfo",
                             shares=[repo], env={"REPO": str(repo)})
print(result.console)
print(f"status {result.status} after {result.seconds:.1f} s")
sys.exit(0 if result.status == 0 else 1)
