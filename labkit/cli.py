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
    from labkit import course

    if args.action == "index":
        print(course.index_page(), end="")
    elif args.action == "run":
        for ls in [course.lesson(n) for n in args.lessons] or course.written():
            print(f"running {ls.filename} ...", flush=True)
            course.execute(ls.path)
    else:
        dest = Path(args.lessons[0] if args.lessons else "student")
        for ls in course.written():
            n = course.student_copy(ls.path, dest / ls.filename)
            print(f"{dest / ls.filename}: {n} solutions blanked")
    return 0


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
    c = sub.add_parser("course", help="the lesson index, re-run lessons in place, student copies")
    c.add_argument("action", choices=["index", "run", "student"])
    c.add_argument("lessons", nargs="*", help="run: lesson numbers (default: all); student: the folder")
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
