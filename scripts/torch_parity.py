#!/usr/bin/env python3
"""Repeats the Candle training runs written by the `torch_parity` example in
PyTorch, on one CPU thread: the same network (torch.nn.Linear layers loaded
with the same initial weights), the same scaled rows, the same row order in
every epoch, Adam with the same settings, MSE. Prints per N the Candle and
PyTorch training times, their ratio, and whether both judge the test days
the same. PyTorch runs twice: with its default Adam (one parameter at a
time) and with its fused Adam (one kernel for all), the faster of the two
being the one to beat.

usage: torch_parity.py DIR   (DIR holds n{N}.json and n{N}_init.safetensors)
"""

import json
import struct
import sys
import time
import warnings
from pathlib import Path

# torch works without NumPy, which nothing here needs; its import-time
# warning about it would only clutter the table.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

GOAL_N = 30
GOAL_RATIO = 5.0
# PyTorch's Adam as it comes (one parameter at a time on a CPU), and fused.
VARIANTS = [("default", {}), ("fused", {"fused": True})]


def load_safetensors(path):
    """Reads f32 tensors from a safetensors file (no extra package needed)."""
    raw = Path(path).read_bytes()
    (head_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + head_len])
    data = raw[8 + head_len :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{name}: dtype {info['dtype']}, expected F32")
        start, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[start:end]), dtype=torch.float32)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def build(run, weights):
    """The autoencoder: Linear layers with ReLU between, linear output."""
    dims = [run["inputs"], *run["hidden"], run["inputs"]]
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(dims, dims[1:])):
        lin = torch.nn.Linear(fan_in, fan_out)
        # Candle keeps the weight as [in, out] and computes x·W; torch's
        # Linear keeps [out, in] and computes x·Wᵀ.
        w = weights[f"l{i}.weight"]
        assert list(w.shape) == [fan_in, fan_out], (i, w.shape)
        with torch.no_grad():
            lin.weight.copy_(w.t())
            lin.bias.copy_(weights[f"l{i}.bias"])
        layers.append(lin)
        if i < len(dims) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def errors(model, rows):
    """Mean squared error of each row, summed in f64 like the Rust side."""
    with torch.no_grad():
        y = model(rows)
    return ((rows.double() - y.double()) ** 2).mean(dim=1).tolist()


def run_one(run, path_weights, adam_options):
    model = build(run, load_safetensors(path_weights))
    base = torch.tensor(run["baseline_rows"], dtype=torch.float32)
    test = torch.tensor(run["test_rows"], dtype=torch.float32)

    # The weights are the right way round when the untrained errors agree.
    init = errors(model, base)
    init_diff = max(abs(a - b) / max(abs(b), 1e-30) for a, b in zip(init, run["candle"]["initial_errors"]))
    if init_diff > 1e-4:
        raise SystemExit(f"N={run['n']}: initial errors differ by {init_diff:.2e}: weights not loaded right")

    adam = run["adam"]
    opt = torch.optim.Adam(
        model.parameters(),
        lr=run["learning_rate"],
        betas=(adam["beta1"], adam["beta2"]),
        eps=adam["eps"],
        **adam_options,
    )
    rows = [base[i : i + 1] for i in range(base.shape[0])]
    began = time.perf_counter()
    last_loss = 0.0
    for order in run["orders"]:
        total = 0.0
        for i in order:
            x = rows[i]
            opt.zero_grad(set_to_none=True)
            loss = F.mse_loss(model(x), x)
            loss.backward()
            opt.step()
            # The Rust loop reads each loss back too.
            total += loss.item()
        last_loss = total / len(order)
    seconds = time.perf_counter() - began

    base_err = errors(model, base)
    threshold = max(base_err) * run["threshold_factor"]
    test_err = errors(model, test)
    verdicts = [e > threshold for e in test_err]
    return seconds, last_loss, threshold, test_err, verdicts


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    out = Path(sys.argv[1])
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    # Candle's training flushes denormals to zero; the same here, so neither
    # side pays for slow denormal arithmetic late in training.
    torch.set_flush_denormal(True)
    runs = sorted(out.glob("n*.json"), key=lambda p: int(p.stem[1:]))
    if not runs:
        raise SystemExit(f"no n*.json in {out}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, flush denormals on")
    print(
        f"{'N':>3} {'Candle s':>9} {'PyTorch s':>10} {'ratio':>7}  {'Adam':<8} same verdicts   "
        f"flagged C/T   threshold C / T        loss C / T"
    )
    goal = None
    for path in runs:
        run = json.loads(path.read_text())
        weights = path.with_name(path.stem + "_init.safetensors")
        c = run["candle"]
        results = []
        for label, options in VARIANTS:
            try:
                seconds, loss, threshold, test_err, verdicts = run_one(run, weights, options)
            except (RuntimeError, TypeError) as e:
                print(f"{run['n']:>3}   PyTorch Adam {label}: not available ({e})")
                continue
            same = sum(a == b for a, b in zip(verdicts, c["anomalous"]))
            n_test = len(verdicts)
            ratio = seconds / c["seconds"]
            all_same = same == n_test
            print(
                f"{run['n']:>3} {c['seconds']:>9.3f} {seconds:>10.3f} {ratio:>6.1f}×  {label:<8} "
                f"{'yes' if all_same else 'no ':>3} ({same:>2} of {n_test})   "
                f"{sum(c['anomalous']):>4}/{sum(verdicts):<4}    "
                f"{c['threshold']:.3e} / {threshold:.3e}   {c['last_loss']:.2e} / {loss:.2e}"
            )
            for kind, a, b, ec, et in zip(run["test_kinds"], c["anomalous"], verdicts, c["test_errors"], test_err):
                if a != b:
                    print(
                        f"      differs: {kind}: Candle {'flags' if a else 'passes'} "
                        f"(error/threshold {ec / c['threshold']:.2f}), PyTorch "
                        f"{'flags' if b else 'passes'} ({et / threshold:.2f})"
                    )
            results.append((ratio, all_same))
        # The goal is judged against the fastest PyTorch, and every PyTorch
        # variant must reach Candle's verdicts.
        if run["n"] == GOAL_N and results:
            goal = min(r for r, _ in results) >= GOAL_RATIO and all(same for _, same in results)
    if goal is not None:
        print(
            f"goal (Candle ≥ {GOAL_RATIO:.0f}× faster than the faster PyTorch at N = {GOAL_N}, "
            f"same verdicts): {'met' if goal else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
