"""What `ablate bench` does: check its options, measure (ablate.bench.speed) and print the rows, one CSV row at a
time into --output so that a run cut short keeps what it measured."""
from pathlib import Path

from rich.table import Table

from ablate.console import Refused, console
from ablate.results.formats import write_output


def bench(model: str | None, batch: int | None, steps: int, warmup: int, dtype: str | None, backends: str | None,
          variants: str, compile_models: bool | None, detr: bool, layer: bool, device: str,
          output: Path | None) -> None:
    """Measure and print throughput and memory per iRPE variant and backend (or one attention layer's times)."""
    import pandas as pd

    from ablate.attention.backends import BACKENDS
    from ablate.bench import speed as b
    from ablate.config.checks import check_device_name
    from ablate.engine.resources import check_device_present
    from ablate.engine.runner import pick_device
    from ablate.models.registry import MODELS

    try:
        check_device_name(device, "--device")
        check_device_present(device, "--device")
    except ValueError as e:
        raise Refused(str(e)) from None
    dev = pick_device(device)
    gpu = dev.type == "cuda"
    model = model or ("deit_small_patch16_224_rpe" if gpu else "deit_pico_patch4_28")
    names = [n.strip() for n in backends.split(",")] if backends else b.default_backends(dev)
    rows = [v.strip() for v in variants.split(",") if v.strip()]
    dtype = dtype or ("bf16" if gpu else "fp32")
    problems = [f"--model {model}: not one of ours" for _ in [0] if model not in MODELS]
    problems += [BACKENDS.unknown(n) for n in names if n not in BACKENDS]
    problems += [f"unknown variant {v!r}: expected {', '.join(b.VARIANTS)}" for v in rows if v not in b.VARIANTS]
    problems += [f"--dtype {dtype}: expected {', '.join(b.DTYPES)}" for _ in [0] if dtype not in b.DTYPES]
    problems += ["--steps must be >= 1 and --warmup >= 0" for _ in [0] if steps < 1 or warmup < 0]
    if problems:
        raise Refused(problems[0])
    env = b.environment(dev)
    console.print(f"{env['device']}  torch {env['torch']}  triton {env['triton']}  CUDA {env['cuda']}")
    if not backends:
        for line in b.left_out(dev):
            console.print(f"  {line}")
    if layer:
        table = Table(title=f"one attention layer, DeiT-S shape, batch {batch or 8}, median of {steps}")
        for column in ("RPE", "backend", "pass", "eager ms", "backend ms", "backend / eager"):
            table.add_column(column)
        layer_rows = b.layer_rows(names, dev, batch or 8, steps, warmup)
        for r in layer_rows:
            table.add_row(*r[:3], f"{r[3]:.1f}", f"{r[4]:.1f}", f"{r[5]:.2f}")
        console.print(table)
        if output is not None:
            frame = pd.DataFrame(layer_rows, columns=["variant", "backend", "pass", "eager_ms", "backend_ms", "ratio"])
            write_output(output, frame.assign(**env).to_csv(index=False))
        return
    size = batch or (128 if gpu else 64)
    done: list = []

    def measured_row(r) -> None:
        done.append(r)
        if output is not None:  # after every row: a run cut short by a time limit keeps what it measured
            ratio = b.ratios(done)
            frame = pd.DataFrame([{**vars(r), "train_ratio": ratio[i][0], "infer_ratio": ratio[i][1], **env,
                                   "dtype": dtype, "batch": size, "steps": steps} for i, r in enumerate(done)])
            write_output(output, frame.to_csv(index=False))
        console.print(f"  {r.model} {r.variant} {r.backend}{' compiled' if r.compiled else ''}: "
                      + (f"{r.train_img_s:.0f} img/s" if r.train_img_s else r.note)
                      + (f"  tiles: {r.tiles}" if r.tiles else ""))

    measured = b.run_bench(model, size, dev, b.DTYPES[dtype], steps, warmup, names, rows,
                           gpu if compile_models is None else compile_models, detr, on_row=measured_row)
    ratio = b.ratios(measured)
    table = Table(title=f"{model}, batch {size}, {dtype}, median of {steps} steps")
    for column in ("model", "RPE", "backend", "train img/s", "x", "infer img/s", "x", "peak GiB", "note"):
        table.add_column(column)
    for i, r in enumerate(measured):
        def fmt(v: float | None, d: int) -> str:
            return "" if v is None else f"{v:.{d}f}"
        table.add_row(r.model.removesuffix("_rpe"), r.variant, r.backend + (" compiled" if r.compiled else ""),
                      fmt(r.train_img_s, 0), fmt(ratio[i][0], 2), fmt(r.infer_img_s, 0), fmt(ratio[i][1], 2),
                      fmt(r.peak_gib, 2), r.note)
    console.print(table)
    for reason in dict.fromkeys(r.reason for r in measured if r.reason):
        console.print(f"  note: {reason}")
