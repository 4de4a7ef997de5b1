"""``python -m model export --source {gluoncv,params,random} --out DIR [--precision int8 --calibrate CLIPS_DIR]``."""

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
    export_cmd.add_argument("--precision", choices=("fp32", "int8"), default="fp32")
    export_cmd.add_argument("--calibrate", metavar="CLIPS_DIR", help="with --precision int8: your videos (one in N held out)")
    export_cmd.add_argument("--holdout-every", type=int, default=4, help="hold out every N-th video (default 4)")
    export_cmd.add_argument("--clips-per-video", type=int, default=1, help="clips sampled per video (default 1)")
    export_cmd.add_argument("--min-top1-agreement", type=float, help="refuse below this (default %(default)s)")
    export_cmd.add_argument("--min-top5-overlap", type=float, help="refuse below this")
    args = parser.parse_args(argv)
    import os
    import tempfile

    if args.if_missing and os.path.exists(os.path.join(args.out, "manifest.json")):
        print("model already exported in {}".format(args.out))
        return 0
    if (args.precision == "int8") != bool(args.calibrate):
        parser.error("--precision int8 and --calibrate CLIPS_DIR go together")
    try:
        if args.precision == "int8":
            from model.quantize import MIN_TOP1_AGREEMENT, MIN_TOP5_OVERLAP, QuantizationRefused, quantize_model

            with tempfile.TemporaryDirectory(prefix="fp32-") as fp32_dir:
                export(args.source, fp32_dir, params_dir=args.params_dir, name=args.name)
                try:
                    manifest = quantize_model(
                        fp32_dir, args.out, args.calibrate, holdout_every=args.holdout_every,
                        clips_per_video=args.clips_per_video,
                        min_top1_agreement=MIN_TOP1_AGREEMENT if args.min_top1_agreement is None else args.min_top1_agreement,
                        min_top5_overlap=MIN_TOP5_OVERLAP if args.min_top5_overlap is None else args.min_top5_overlap,
                    )
                except QuantizationRefused as refused:
                    print(json.dumps(refused.report, indent=2))
                    print("int8 export refused: {}".format(refused), file=sys.stderr)
                    return 2
            print(json.dumps(manifest["quantization"], indent=2))
        else:
            manifest = export(args.source, args.out, params_dir=args.params_dir, name=args.name)
    except Exception as error:  # a clear message, not a traceback, for a CLI user
        print("export failed: {}".format(error), file=sys.stderr)
        return 1
    if manifest["random_weights"]:
        banner = "!" * 78
        print(banner, file=sys.stderr)
        print(manifest["warning"], file=sys.stderr)
        print(banner, file=sys.stderr)
    print(json.dumps({k: manifest[k] for k in ("name", "source", "precision", "random_weights", "params_sha256")}, indent=2))
    print("model directory written to {}".format(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
