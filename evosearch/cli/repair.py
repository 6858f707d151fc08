"""``evosearch repair RUN``: quarantine damaged parts so the run reads and resumes again."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "repair",
        help="drop parts that fail their checksum (moved to RUN/quarantine/) and list lost ids",
    )
    p.add_argument("run", help="the run directory")
    p.add_argument("--dry-run", action="store_true", help="only report what would be dropped")
    p.set_defaults(func=cmd_repair)


def cmd_repair(args: argparse.Namespace) -> int:
    from evosearch.store.repair import repair, repair_manifest
    from evosearch.store.runstore import RunStore

    restored = repair_manifest(args.run, dry_run=args.dry_run)
    if restored:
        print(f"{args.run}: {restored}")
        if args.dry_run:
            return 0
    with RunStore.open(args.run, writable=True) as store:
        report = repair(store, dry_run=args.dry_run)
    if not report.dropped:
        print(f"{args.run}: all {report.kept_parts} parts match their checksums; nothing to do")
        return 0
    verb = "would drop" if report.dry_run else "dropped"
    print(f"{args.run}: {verb} {len(report.dropped)} damaged part(s), {report.lost_rows} rows:")
    for d in report.dropped:
        if d.ids is not None:
            lost = ", ".join(map(str, d.ids))
        else:
            lost = f"{d.rows} individuals with ids in {d.min_id}..{d.max_id} (file unreadable)"
        where = f" -> {d.quarantined}" if d.quarantined else ""
        print(f"  {d.file} ({d.problem}){where}")
        print(f"    lost ids: {lost}")
    print(f"kept {report.kept_parts} parts, {report.kept_rows} rows")
    if report.dry_run:
        print(f"run 'evosearch repair {args.run}' without --dry-run to apply")
    return 0
