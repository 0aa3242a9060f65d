"""kiln's lazy MLP training step beside libtorch 1.13 and PyTorch (eager and torch.compile).

For each thread count, R rounds alternate (order swapped every round) between
  - build/bench/train_bench, rows BM_TrainStep/lazy and BM_TrainStep/libtorch, with
    KILN_NUM_THREADS=N OPENBLAS_NUM_THREADS=N, and
  - bench/pytorch_peer/train_step.py --serve in the peer's venv (one long-lived process per
    thread count, so torch's import and compilation happen once), with torch.set_num_threads(N)
    and OMP_NUM_THREADS=MKL_NUM_THREADS=N,
then prints each row's median per-step time across rounds and kiln-lazy / row.
Run bench/pytorch_peer/setup.sh first. Standard library only: any python3 runs it.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KILN_ROWS = {"BM_TrainStep/lazy": "kiln lazy", "BM_TrainStep/libtorch": "libtorch 1.13"}
TORCH_ROWS = {"eager": "pytorch eager", "compile": "pytorch compile"}


def thread_env(n):
    env = dict(os.environ)
    for var in ("KILN_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(n)
    return env


def run_kiln(bench, n, min_time):
    """Milliseconds per step of each kiln row (Google Benchmark's real time)."""
    out = subprocess.run(
        [bench, "--benchmark_filter=BM_TrainStep/(lazy|libtorch)$",
         f"--benchmark_min_time={min_time}", "--benchmark_format=json"],
        env=thread_env(n), check=True, capture_output=True, text=True).stdout
    times = {}
    for row in json.loads(out)["benchmarks"]:
        if row.get("error_occurred"):
            sys.exit(f"{row['name']}: {row['error_message']}")
        assert row["time_unit"] == "ms", row
        times[KILN_ROWS[row["name"]]] = row["real_time"]
    return times


class TorchPeer:
    """train_step.py --serve in the venv, limited to n threads."""

    def __init__(self, python, n, min_time):
        self.proc = subprocess.Popen(
            [python, str(Path(__file__).with_name("train_step.py")), "--threads", str(n),
             "--serve"], env=thread_env(n), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True)
        ready = json.loads(self.proc.stdout.readline())
        self.version, self.warmup_s = ready["torch"], ready["warmup_s"]
        # Enough steps per round to run about min_time seconds, as Google Benchmark does.
        self.steps = {v: max(5, math.ceil(min_time / (self.seconds(v, 5) / 5)))
                      for v in TORCH_ROWS}

    def seconds(self, variant, steps):
        self.proc.stdin.write(f"{variant} {steps}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())["seconds"]

    def run(self):
        """Milliseconds per step of each variant."""
        return {name: self.seconds(v, self.steps[v]) * 1e3 / self.steps[v]
                for v, name in TORCH_ROWS.items()}

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def compare(args, n):
    peer = TorchPeer(args.python, n, args.min_time)
    print(f"threads {n}: torch {peer.version}, warmup (compile) s: "
          + ", ".join(f"{v} {s:.1f}" for v, s in peer.warmup_s.items())
          + f"; steps per round: {peer.steps}", flush=True)
    rounds = []
    for r in range(args.rounds):
        sides = [lambda: run_kiln(args.bench, n, args.min_time), peer.run]
        if r % 2:
            sides.reverse()
        times = {}
        for side in sides:
            times.update(side())
        print(f"  round {r + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in times.items()),
              flush=True)
        rounds.append(times)
    peer.close()
    return rounds


def table(results):
    print("\n| threads | row | median ms | min ms | max ms | kiln lazy / row |")
    print("|---|---|---|---|---|---|")
    for n, rounds in results.items():
        medians = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        for k, med in medians.items():
            ts = [r[k] for r in rounds]
            print(f"| {n} | {k} | {med:.2f} | {min(ts):.2f} | {max(ts):.2f} | "
                  f"{medians['kiln lazy'] / med:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--min-time", type=float, default=0.5,
                        help="seconds per row per round (--benchmark_min_time)")
    parser.add_argument("--bench", default=str(ROOT / "build/bench/train_bench"))
    venv = Path(os.environ.get("KILN_PEER_VENV", ROOT / "build/pytorch-venv"))
    parser.add_argument("--python", default=str(venv / "bin/python"),
                        help="the peer venv's python (bench/pytorch_peer/setup.sh)")
    args = parser.parse_args()
    table({n: compare(args, n) for n in args.threads})


if __name__ == "__main__":
    main()
