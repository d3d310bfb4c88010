"""``python -m knowledge``: ingest files, show stats, rebuild vectors, write the demo dataset.

Exit codes: 0 ok; 1 rows were skipped or had issues (the report says which); 2 usage error or
an error that stopped the command (message only, no traceback).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from pathlib import Path

from knowledge.errors import NextNeedError
from knowledge.formats import FORMATS, ColumnMapping, get_adapter
from knowledge.ingest import IngestReport, ingest_dataset, ingest_events, ingest_items
from knowledge.store import Store, StoreConfig, default_store_path


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", help=f"store directory (default {default_store_path()})")
    common.add_argument("--host", help="Chroma server host (instead of --store)")
    common.add_argument("--port", type=int, default=8000)
    common.add_argument("--embedder", default=None, help="minilm (default) or hashing")
    p = argparse.ArgumentParser(prog="python -m knowledge", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    ing = sub.add_parser("ingest", parents=[common], help="ingest files or a directory")
    ing.add_argument("paths", nargs="+")
    ing.add_argument("--format", choices=FORMATS, help="default: guessed from file names")
    ing.add_argument("--mapping", nargs="*", default=[], metavar="FIELD=COLUMN")
    ing.add_argument("--strict", action="store_true", help="any row issue aborts, nothing written")
    ing.add_argument("--report", type=Path, help="write the JSON report here")
    sub.add_parser("stats", parents=[common], help="counts of items, events, users")
    sub.add_parser("rebuild", parents=[common], help="re-embed the stored records")
    demo = sub.add_parser("demo", parents=[common], help="write (and --ingest) the demo data")
    demo.add_argument("--out", type=Path, required=True)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument(
        "--reference",
        type=dt.date.fromisoformat,
        help="YYYY-MM-DD: the day the customers' next purchases are due (default: today, UTC)",
    )
    demo.add_argument("--ingest", action="store_true")
    demo.set_defaults(format="native", mapping=[], strict=False, report=None)
    return p


def _ingest(store: Store, args: argparse.Namespace) -> list[IngestReport]:
    if args.command == "demo":  # its file names are the generator's business: no guessing
        return [ingest_items(store, args.paths[0]), ingest_events(store, args.paths[1])]
    fmt = args.format or ("csv" if args.mapping else None)
    adapter = get_adapter(fmt or "csv")
    maps: list[ColumnMapping | None] = [None, None]
    if args.mapping:
        maps = [m.with_pairs(args.mapping) for m in (adapter.items, adapter.events)]
    return ingest_dataset(store, args.paths, fmt, args.strict, True, *maps)


def _finish(reports: list[IngestReport], args: argparse.Namespace) -> int:
    print("\n".join(r.summary() for r in reports))
    if args.report:
        args.report.write_text(json.dumps({"reports": [r.to_dict() for r in reports]}, indent=2))
    if any(r.issues for r in reports):
        skipped = sum(r.skipped for r in reports)
        print(f"finished with issues: {skipped} row(s) skipped; see above", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        port = args.port if args.host else None
        config = StoreConfig.from_env(
            path=args.store, host=args.host, port=port, embedder=args.embedder
        )
        if args.command == "demo":
            try:
                from knowledge.demo import DemoConfig, write_demo
            except ImportError as exc:  # the generator is optional until it lands
                raise NextNeedError(f"the demo generator is not available ({exc})") from None
            demo = write_demo(args.out, DemoConfig(seed=args.seed, reference=args.reference))
            print(f"wrote {demo.items} and {demo.events}")
            if not args.ingest:
                return 0
            args.paths = [demo.items, demo.events]
        with Store(config) as store:
            if args.command in ("ingest", "demo"):
                return _finish(_ingest(store, args), args)
            result = store.stats() if args.command == "stats" else store.rebuild(progress=True)
            print(json.dumps(result, indent=2))
        return 0
    except (NextNeedError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
