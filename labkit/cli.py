"""The `labkit` command: doctor, up, down, status, images, clean, course, bench, workshop."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labkit.errors import LabError


def _doctor(args: argparse.Namespace) -> int:
    from labkit.probes import doctor

    report = doctor()
    print(report)
    return 0 if report.ok else 1


def _up(args: argparse.Namespace) -> int:
    from labkit import engine

    print(engine.up())
    return 0


def _down(args: argparse.Namespace) -> int:
    from labkit import engine

    engine.down()
    print("lab engine stopped; nothing of it is left running")
    return 0


def _status(args: argparse.Namespace) -> int:
    from labkit import engine

    st = engine.status()
    print(st)
    return 0 if st.up else 3


def _images(args: argparse.Namespace) -> int:
    from labkit import images

    if args.action == "build":
        images.build(args.names or None)
    else:
        for name in images.names():
            r = images.recipe(name)
            print(f"{r.tag:<24} images/{name}/  {images.context_digest(r)[:19]}")
    return 0


def _clean(args: argparse.Namespace) -> int:
    from labkit.cleanup import clean

    print(clean(args.lesson))
    return 0


def _course(args: argparse.Namespace) -> int:
    from labkit import course, learner
    from labkit.errors import BadInput

    if args.action == "index":
        print(course.index_page(), end="")
    elif args.action == "run":
        return _run_lessons([course.lesson(n) for n in args.lessons] or course.written(), args.out, args.in_place)
    elif args.action == "learner":
        made = learner.sync()
        print(f"your working copies are in {learner.LEARNER} ({len(made)} new); "
              "`labkit course reset NN` gives a fresh one")
    elif args.action == "reset":
        if len(args.lessons) != 1:
            raise BadInput("Say which lesson to reset", "", "For example: labkit course reset 04")
        fresh, kept = learner.reset(args.lessons[0])
        print(f"{fresh} is fresh" + (f"; your previous copy is {kept}" if kept else ""))
    else:
        dest = Path(args.lessons[0] if args.lessons else "student")
        for ls in course.written():
            n = learner.copy(ls.path, dest / ls.filename)
            print(f"{dest / ls.filename}: {n} solutions cut")
    return 0


def _run_lessons(lessons: list, out: str, in_place: bool) -> int:
    from labkit import course

    tty, runs = sys.stdout.isatty(), []
    for ls in lessons:
        def progress(n: int, total: int, name: str = ls.filename) -> None:
            print(f"\r{name}: cell {n}/{total} ", end="", flush=True)

        run = course.run(ls, ls.path if in_place else Path(out) / ls.filename, progress=progress if tty else None)
        runs.append(run)
        print(f"\r{ls.filename}: {'ok' if run.ok else 'FAILED'} ({run.seconds:.0f} s)", flush=True)
    print()
    print(course.table(runs))
    print(f"\nexecuted notebooks: {'in place, in notebooks/' if in_place else out}")
    return 0 if all(r.ok for r in runs) else 1


def _bench(args: argparse.Namespace) -> int:
    from labkit import bench

    return bench.run(args.what, rounds=args.rounds)


def _workshop(args: argparse.Namespace) -> int:
    from labkit import workshop

    workshop.build()
    print(f"Start one per learner: docker run -d --privileged --cgroupns private -p 127.0.0.1:8888:8888 "
          f"-e JUPYTER_TOKEN=... {workshop.TAG}  (README: Running a workshop)")
    return 0


def parser() -> argparse.ArgumentParser:
    """The command line, one sub-command per verb."""
    p = argparse.ArgumentParser(prog="labkit", description="Helper of the course 'Containers, down the stack'.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("doctor", help="check this machine for everything the course needs").set_defaults(run=_doctor)
    sub.add_parser("up", help="start the lab engine (containerd, dockerd, registry)").set_defaults(run=_up)
    sub.add_parser("down", help="stop the lab engine and leave nothing behind").set_defaults(run=_down)
    sub.add_parser("status", help="show which lab daemons run").set_defaults(run=_status)
    img = sub.add_parser("images", help="list or build the lab images from images/")
    img.add_argument("action", choices=["list", "build"], nargs="?", default="list")
    img.add_argument("names", nargs="*", help="only these images (default: all)")
    img.set_defaults(run=_images)
    cl = sub.add_parser("clean", help="remove everything any lesson made")
    cl.add_argument("lesson", nargs="?", help="only what lesson NN made")
    cl.set_defaults(run=_clean)
    c = sub.add_parser("course", help="the lesson index, the learner's copies, re-run lessons in place")
    c.add_argument("action", choices=["index", "learner", "reset", "run", "student"],
                   help="learner: make the missing working copies in learner/; reset NN: a fresh copy of one; "
                        "run: the teacher's lessons, with a table at the end; student DIR: learner copies written to DIR")
    c.add_argument("lessons", nargs="*", help="run: lesson numbers (default: all); reset: one; student: the folder")
    c.add_argument("--out", default="build/lessons", help="run: where the executed notebooks go (default %(default)s)")
    c.add_argument("--in-place", action="store_true", help="run: store the fresh outputs in notebooks/ itself")
    c.set_defaults(run=_course)
    b = sub.add_parser("bench", help="measure (engine: cold and warm `labkit up`; runtime: labrun against runc)")
    b.add_argument("what", choices=["engine", "runtime"])
    b.add_argument("--rounds", type=int, default=3)
    b.set_defaults(run=_bench)
    w = sub.add_parser("workshop", help="build the workshop image (Debian 13, the course, the lab engine)")
    w.add_argument("action", choices=["build"])
    w.set_defaults(run=_workshop)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point: a LabError becomes one sentence on stderr and exit status 1."""
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except LabError as err:
        print(f"labkit: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
