"""``python -m videos fetch [NAME]``: copy a sample video into ``videos/`` (git-ignored)."""

import os
import shutil
import sys

from videos.samples import SAMPLES, sample_path


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "fetch":
        print("usage: python -m videos fetch [{}]".format("|".join(SAMPLES)), file=sys.stderr)
        return 2
    name = argv[1] if len(argv) > 1 else "bikes.mp4"
    target = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    if not os.path.exists(target):
        shutil.copyfile(sample_path(name), target)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
