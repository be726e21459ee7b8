"""Evaluator benchmark: training iterations/s and evaluation images/s of a detector, CPU (and GPU if present).

    .venv/bin/python bench/bench_eval.py [--model NAME] [--image-size 320] [--batch-size 4] [--iters 10]
                                         [--out bench/results/eval.json]

Times the real pipeline of ``simgen eval`` (COCO loading, v2 augmentation, forward/backward, SGD step;
inference with the model's own resize and postprocessing) on a procedural dice set of 640x640 images, the
size of the real dice photos. The first iterations are warm-up and not timed. On CUDA, AMP is on, as in
``simgen eval``. CPU numbers depend a lot on other load; the load average is recorded with them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import simgen.evaluate  # noqa: E402,F401  (sets OMP_WAIT_POLICY before torch loads)


def bench_device(device_name: str, args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    import torch

    from simgen.evaluate import loader, models
    from simgen.evaluate.datasets import load_coco, match_categories
    from simgen.evaluate.predict import predict
    from simgen.evaluate.train import TrainConfig, Trainer

    device = torch.device(device_name)
    coco = load_coco(data_dir, "bench")
    labels = match_categories(coco, [], {}).label_map(coco)
    torch.manual_seed(0)
    model = models.build_model(args.model, len(coco.categories), args.image_size, args.pretrained)
    transform = loader.train_transform(args.image_size, loader.AugmentConfig())
    data = loader.MultiSource(
        [loader.CocoDetection(coco, labels, models.get_spec(args.model).masks, transform)]
    )
    warmup = 3
    cfg = TrainConfig(iters=warmup + args.iters, batch_size=args.batch_size, checkpoint_every=10**9)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(model, cfg, device, Path(run_dir), "bench")
        trainer.run(data, stop_after=warmup, progress=False)
        if device.type == "cuda":
            torch.cuda.synchronize()
        timed = trainer.run(data, progress=False)
    test = loader.CocoDetection(coco, labels)
    predict(
        model,
        loader.CocoDetection(coco.subset([im["id"] for im in coco.images[:2]], "w"), labels),
        device,
        sorted(coco.categories),
        args.batch_size,
        progress=False,
    )  # warm-up
    _, images_per_second = predict(
        model, test, device, sorted(coco.categories), args.batch_size, progress=False
    )
    return {
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "amp": device.type == "cuda",
        "torch_threads": torch.get_num_threads(),
        "train_iters_per_second": round(timed.iters_per_second, 3),
        "train_images_per_second": round(timed.iters_per_second * args.batch_size, 2),
        "eval_images_per_second": round(images_per_second, 2),
        "timed_train_iters": args.iters,
        "eval_images": len(test),
    }


def main() -> int:
    from simgen.evaluate.settings import DEFAULT_MODEL
    from simgen.evaluate.toydata import make_dataset

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--pretrained", default=None, help="default: the model's default")
    parser.add_argument("--image-size", type=int, default=320)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--iters", type=int, default=10, help="timed training iterations")
    parser.add_argument("--images", type=int, default=16, help="images in the benchmark set")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "eval.json"))
    args = parser.parse_args()

    import torch

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        make_dataset(Path(tmp), "dice", args.images, 640, seed=0)
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        results = {d: bench_device(d, args, Path(tmp)) for d in devices}
    report = {
        "model": args.model,
        "image_size": args.image_size,
        "batch_size": args.batch_size,
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "results": results,
    }
    for device, r in results.items():
        print(
            f"{device}: train {r['train_iters_per_second']:.3f} it/s "
            f"({r['train_images_per_second']:.2f} img/s, "
            f"batch {args.batch_size}), eval {r['eval_images_per_second']:.2f} img/s at {args.image_size} px "
            f"[{args.model}]"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
