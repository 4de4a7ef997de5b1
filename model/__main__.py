"""``python -m model export --source {gluoncv,params,random} --out DIR``."""

import argparse
import json
import sys

from model.export import SOURCES, export


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    export_cmd = commands.add_parser("export", help="write a model directory")
    export_cmd.add_argument("--source", choices=SOURCES, required=True)
    export_cmd.add_argument("--out", required=True, help="directory to write")
    export_cmd.add_argument("--params-dir", help="with --source params: your model files")
    export_cmd.add_argument("--name", help="model name recorded with every prediction")
    export_cmd.add_argument("--if-missing", action="store_true", help="do nothing if DIR already holds a model")
    args = parser.parse_args(argv)
    import os

    if args.if_missing and os.path.exists(os.path.join(args.out, "manifest.json")):
        print("model already exported in {}".format(args.out))
        return 0
    try:
        manifest = export(args.source, args.out, params_dir=args.params_dir, name=args.name)
    except Exception as error:  # a clear message, not a traceback, for a CLI user
        print("export failed: {}".format(error), file=sys.stderr)
        return 1
    if manifest["random_weights"]:
        banner = "!" * 78
        print(banner, file=sys.stderr)
        print(manifest["warning"], file=sys.stderr)
        print(banner, file=sys.stderr)
    print(json.dumps({k: manifest[k] for k in ("name", "source", "random_weights", "params_sha256")}, indent=2))
    print("model directory written to {}".format(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
