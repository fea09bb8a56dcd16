"""``python -m refsan ...`` runs the refsan command."""

import os
import sys

from refsan import find_refsan_bin


def main() -> None:
    refsan = find_refsan_bin()
    if sys.platform == "win32":
        import subprocess

        sys.exit(subprocess.call([refsan, *sys.argv[1:]]))
    os.execv(refsan, [refsan, *sys.argv[1:]])


if __name__ == "__main__":
    main()
