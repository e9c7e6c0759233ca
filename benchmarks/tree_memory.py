"""Run a command and log the RSS of each process of its tree every 0.5 s: which process
holds what, and when, at the tree's peak (what benchmarks/run.py reports as one number).

usage: python benchmarks/tree_memory.py LOG COMMAND...
e.g.   cd /tmp/perf/s10000 && rm -rf out && python benchmarks/tree_memory.py /tmp/r10k.log \\
           nexusreports build --jobs 2

LOG gets a line per sample, ``seconds pid:rss_kb pid:rss_kb ...`` (the command first, then
its children), and at the end ``done <seconds> peak <MB> at (<seconds>, [(pid, rss_kb),
...])``; the command's stderr goes to LOG.err.  Needs psutil.
"""
import subprocess
import sys
import time

import psutil


def main() -> None:
    log, command = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    with open(log, "w") as out, open(log + ".err", "w") as err:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        root = psutil.Process(child.pid)
        peak, at = 0, None
        while child.poll() is None:
            try:
                parts = []
                for proc in [root] + root.children(recursive=True):
                    try:
                        parts.append((proc.pid, proc.memory_info().rss >> 10))
                    except psutil.Error:
                        pass
                now = time.perf_counter() - started
                total = sum(rss for _, rss in parts)
                if total > peak:
                    peak, at = total, (round(now, 1), parts)
                print(f"{now:.1f} " + " ".join(f"{pid}:{rss}" for pid, rss in parts),
                      file=out, flush=True)
            except psutil.Error:
                pass
            time.sleep(0.5)
        print(f"done {time.perf_counter() - started:.1f}s peak {peak >> 10} MB at {at}",
              file=out, flush=True)
    sys.exit(child.returncode)


if __name__ == "__main__":
    main()
