"""The default build with a mark per phase: run from a project folder (data/, templates/),
it runs ``nexusreports -q build ARGS...`` in this process and prints to stderr, for each
process (the build and the rendering process that writes the PDF bundle), the wall time
since start, the process's CPU time and its peak RSS when validation, rendering, each
bundle and the commit start and end.

    SOURCE_DATE_EPOCH=1700000000 python /path/to/benchmarks/phases.py --jobs 2

A diagnosis, not a benchmark: the rows of docs/benchmarks.md come from run.py.
"""

import os
import resource
import sys
import time

T0 = time.perf_counter()


def mark(what: str) -> None:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(f"[{os.getpid()}] {time.perf_counter() - T0:7.1f}s cpu {ru.ru_utime + ru.ru_stime:7.1f}s "
          f"rss {ru.ru_maxrss >> 10} MB  {what}", file=sys.stderr, flush=True)


def wrap(owner: object, name: str) -> None:
    f = getattr(owner, name)

    def marked(*a, **k):
        mark(f"{name} start")
        result = f(*a, **k)
        mark(f"{name} end")
        return result

    setattr(owner, name, marked)


def main() -> None:
    sys.argv = ["nexusreports", "-q", "build", *sys.argv[1:]]
    from nexusreports import bundle as files
    from nexusreports import pipeline, write

    for owner, name in ((pipeline, "check"), (pipeline, "_bundle_outputs"),
                        (files, "write_pdf"), (files, "write_docx"), (write.Staging, "commit")):
        wrap(owner, name)
    finish = pipeline._Renderer.finish

    def finished(self):
        mark("last sheet submitted")
        result = finish(self)
        mark("all sheets rendered")
        return result

    pipeline._Renderer.finish = finished
    from nexusreports._entry import main as run

    try:
        run()
    finally:
        mark("end")


if __name__ == "__main__":
    main()
