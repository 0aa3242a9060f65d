"""The MLP training step of bench/train_bench.cpp in PyTorch: a benchmark peer only.

784-512-512-10 MLP with ReLU, batch 256, cross-entropy, SGD (lr 1e-3, momentum 0.9), in the
loop form: zero_grad(); loss = ...; loss.backward(); opt.step(); loss.item().
Two variants: "eager", and "compile" (the whole step function under torch.compile; the loss is
read outside it). Both start from the same weights and data (seed 0), so their first_loss agree.
The first steps of each variant (tracing, compiling, creating the optimizer's momentum buffers)
are timed apart as warmup_s, never as step time.

  python train_step.py --threads N [--reps R]   one JSON line per variant
  python train_step.py --threads N --serve      reads "VARIANT STEPS" lines from stdin, answers
                                                each with one JSON line: the seconds those steps
                                                took (bench/pytorch_peer/compare.py drives it)
Set OMP_NUM_THREADS/MKL_NUM_THREADS=N in the environment as well (compare.py does).
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

# A fresh inductor cache, so that warmup_s is the cold compile time (the default cache in /tmp
# would turn later runs' compilation into a 2 s cache load). Removed at exit.
_cache = tempfile.TemporaryDirectory(prefix="kiln-peer-inductor-")
os.environ["TORCHINDUCTOR_CACHE_DIR"] = _cache.name
import torch  # noqa: E402

VARIANTS = ("eager", "compile")
WARMUP_STEPS = 3


class Step:
    def __init__(self, variant):
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(
            torch.nn.Linear(784, 512), torch.nn.ReLU(),
            torch.nn.Linear(512, 512), torch.nn.ReLU(),
            torch.nn.Linear(512, 10))
        self.opt = torch.optim.SGD(self.model.parameters(), lr=1e-3, momentum=0.9)
        self.x = torch.randn(256, 784)
        self.y = torch.randint(0, 10, (256,))
        self.fn = torch.compile(self.step) if variant == "compile" else self.step
        start = time.perf_counter()
        self.first_loss = self()
        for _ in range(WARMUP_STEPS - 1):
            self()
        self.warmup_s = time.perf_counter() - start

    def step(self):
        self.opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss

    def __call__(self):
        return self.fn().item()


def run(step, steps):
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start


def report(name, step, threads, reps):
    times = [run(step, 1) * 1e3 for _ in range(reps)]
    print(json.dumps({
        "name": f"pytorch_{name}", "threads": threads, "median_ms": statistics.median(times),
        "min_ms": min(times), "max_ms": max(times), "reps": reps,
        "warmup_s": step.warmup_s, "first_loss": step.first_loss,
        "torch": torch.__version__}), flush=True)


def serve(steps_by_variant):
    print(json.dumps({"ready": True, "torch": torch.__version__,
                      "warmup_s": {v: s.warmup_s for v, s in steps_by_variant.items()}}),
          flush=True)
    for line in sys.stdin:
        variant, count = line.split()
        seconds = run(steps_by_variant[variant], int(count))
        print(json.dumps({"variant": variant, "steps": int(count), "seconds": seconds}),
              flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--reps", type=int, default=100, help="timed steps per variant")
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps_by_variant = {v: Step(v) for v in VARIANTS}
    if args.serve:
        serve(steps_by_variant)
    else:
        for name, step in steps_by_variant.items():
            report(name, step, args.threads, args.reps)


if __name__ == "__main__":
    main()
