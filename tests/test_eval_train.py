"""Training, resuming, the model zoo and the ``eval`` command end to end (needs the ``eval`` extra)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import simgen.evaluate  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads: much faster on busy CPUs)

torch = pytest.importorskip("torch", reason="the eval extra (torch, torchvision) is not installed")

from simgen.errors import SimgenError  # noqa: E402
from simgen.evaluate import cli, loader, models, toydata  # noqa: E402
from simgen.evaluate.datasets import CocoSet, load_coco, match_categories  # noqa: E402
from simgen.evaluate.metrics import evaluate_results  # noqa: E402
from simgen.evaluate.predict import predict  # noqa: E402
from simgen.evaluate.train import TrainConfig, train  # noqa: E402

CPU = torch.device("cpu")


def _data(coco_set: CocoSet, labels: dict[int, int], size: int, masks: bool = False) -> loader.MultiSource:
    transform = loader.train_transform(size, loader.AugmentConfig())
    return loader.MultiSource([loader.CocoDetection(coco_set, labels, masks, transform)])


def _ap50(model: torch.nn.Module, test: CocoSet, labels: dict[int, int], category_ids: list[int]) -> float:
    results, _ = predict(model, loader.CocoDetection(test, labels), CPU, category_ids, progress=False)
    return evaluate_results(test, results)["AP50"]


def test_training_learns_easy_shapes(tmp_path: Path) -> None:
    """Pretrained Lite0 Faster R-CNN, 80 CPU iterations at 128 px: AP50 goes from ~0 to > 0.9 (~2 min)."""
    train_set = load_coco(toydata.make_dataset(tmp_path / "train", "shapes", 64, 128, seed=0), "train")
    test_set = load_coco(toydata.make_dataset(tmp_path / "test", "shapes", 32, 128, seed=1), "test")
    match = match_categories(test_set, [train_set], {})
    torch.manual_seed(0)
    model = models.build_model(models.DEFAULT_MODEL, 3, 128, "efficientnet-lite0")
    before = _ap50(model, test_set, match.label_map(test_set), match.test_ids)
    cfg = TrainConfig(iters=80, batch_size=4, lr=0.02, warmup_iters=20, checkpoint_every=1000)
    train(
        model, _data(train_set, match.label_map(train_set), 128), cfg, tmp_path / "run", CPU, progress=False
    )
    after = _ap50(model, test_set, match.label_map(test_set), match.test_ids)
    assert before < 0.2, f"an untrained model should not detect the shapes (AP50 {before:.3f})"
    assert after > 0.9, f"training did not learn the easy set (AP50 {after:.3f}, before {before:.3f})"


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path: Path) -> None:
    coco = load_coco(toydata.make_dataset(tmp_path / "d", "shapes", 8, 64, seed=3), "d")
    labels = match_categories(coco, [], {}).label_map(coco)
    cfg = TrainConfig(iters=4, batch_size=2, lr=0.01, warmup_iters=1, checkpoint_every=1)

    def fresh() -> torch.nn.Module:
        torch.manual_seed(0)
        return models.build_model("fasterrcnn_efficientnet_lite0_fpn", 3, 64, "none")

    straight = fresh()
    train(straight, _data(coco, labels, 64), cfg, tmp_path / "straight", CPU, progress=False)
    interrupted = fresh()
    train(interrupted, _data(coco, labels, 64), cfg, tmp_path / "resumed", CPU, stop_after=2, progress=False)
    torch.manual_seed(123)  # whatever happens in between must not matter
    resumed = models.build_model("fasterrcnn_efficientnet_lite0_fpn", 3, 64, "none")
    result = train(resumed, _data(coco, labels, 64), cfg, tmp_path / "resumed", CPU, progress=False)
    assert result.iters == 4
    a, b = straight.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed run diverged from the uninterrupted one"
    assert not torch.equal(
        a["roi_heads.box_predictor.cls_score.weight"],
        fresh().state_dict()["roi_heads.box_predictor.cls_score.weight"],
    )


@pytest.mark.parametrize(
    ("name", "masks"),
    [
        ("fasterrcnn_efficientnet_lite0_fpn", False),
        ("maskrcnn_efficientnet_lite0_fpn", True),
        ("retinanet_efficientnet_lite0_fpn", False),
        ("fcos_efficientnet_lite0_fpn", False),
        ("fasterrcnn_mobilenet_v3_large_320_fpn", False),
        ("ssdlite320_mobilenet_v3_large", False),
        pytest.param("fasterrcnn_resnet50_fpn", False, marks=pytest.mark.slow),
        pytest.param("maskrcnn_resnet50_fpn", True, marks=pytest.mark.slow),
    ],
)
def test_zoo_trains_from_scratch_and_predicts(tmp_path: Path, name: str, masks: bool) -> None:
    coco = load_coco(toydata.make_dataset(tmp_path / "d", "shapes", 4, 64, seed=4), "d")
    labels = match_categories(coco, [], {}).label_map(coco)
    model = models.build_model(name, 3, 64, "none")
    cfg = TrainConfig(iters=2, batch_size=2, checkpoint_every=1000)
    result = train(model, _data(coco, labels, 64, masks), cfg, tmp_path / "run", CPU, progress=False)
    assert result.iters == 2 and result.final_loss == result.final_loss  # finite, not NaN
    results, _ = predict(model, loader.CocoDetection(coco, labels), CPU, [1, 2, 3], progress=False)
    assert all(("segmentation" in r) == masks for r in results)


def test_packaged_lite0_weights_classify_an_imagenet_photo() -> None:
    """The weight conversion is right: Grace Hopper (matplotlib's sample photo) -> 'military uniform'."""
    cv2 = pytest.importorskip("cv2")
    matplotlib = pytest.importorskip("matplotlib")
    from simgen.evaluate.backbones import LITE0_MEAN, LITE0_STD, Lite0Classifier

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not path.is_file():
        pytest.skip(f"matplotlib sample photo not installed ({path})")
    image = cv2.imread(str(path))[..., ::-1]
    side = min(image.shape[:2])
    y0, x0 = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    image = cv2.resize(image[y0 : y0 + side, x0 : x0 + side], (224, 224))
    x = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() / 255
    x = (x - torch.tensor(LITE0_MEAN)[:, None, None]) / torch.tensor(LITE0_STD)[:, None, None]
    model = Lite0Classifier().eval()
    model.load_imagenet()
    with torch.no_grad():
        assert int(model(x).argmax()) == 652  # ImageNet class 652: military uniform


def test_missing_torchvision_weights_fail_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(SimgenError, match=r"not in the torch hub cache .*nothing is downloaded"):
        models.build_model("fasterrcnn_mobilenet_v3_large_320_fpn", 3, 64, "torchvision")
    with pytest.raises(SimgenError, match="needs an EfficientNet-Lite0 model"):
        models.build_model("fasterrcnn_mobilenet_v3_large_320_fpn", 3, 64, "efficientnet-lite0")
    with pytest.raises(SimgenError, match="unknown --model"):
        models.build_model("yolo", 3, 64)


def test_local_backbone_weights_file_and_torch_hub_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--backbone-weights with a torchvision classification state dict, a wrong file, a cached hub file."""
    torchvision = pytest.importorskip("torchvision")
    state = torchvision.models.mobilenet_v3_large().state_dict()
    good = tmp_path / "mobilenet.pth"
    torch.save(state, good)
    model = models.build_model("fasterrcnn_mobilenet_v3_large_320_fpn", 3, 64, backbone_weights=good)
    assert model.backbone.body["0"][1].__class__.__name__ == "FrozenBatchNorm2d"
    assert torch.equal(model.backbone.body["0"][0].weight, state["features.0.0.weight"])
    bad = tmp_path / "bad.pth"
    torch.save({"x": torch.zeros(1)}, bad)
    with pytest.raises(SimgenError, match="backbone weights do not fit mobilenet_v3_large"):
        models.build_model("fasterrcnn_mobilenet_v3_large_320_fpn", 3, 64, backbone_weights=bad)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    spec = models.get_spec("ssdlite320_mobilenet_v3_large")
    cached = models.hub_cache_path(torchvision.models.MobileNet_V3_Large_Weights.IMAGENET1K_V1)
    cached.parent.mkdir(parents=True)
    torch.save(state, cached)
    model = models.build_model(spec.name, 3, 64, "torchvision")
    assert torch.equal(model.backbone.features[0][0][0].weight, state["features.0.0.weight"])


def _run_cli(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["eval", *argv])
    return args.func(args)


def test_eval_command_on_a_boxes_only_real_set(tmp_path: Path) -> None:
    """All five experiments end to end on tiny sets (2 iterations each): report files and metrics exist."""
    toydata.make_dataset(tmp_path / "syn", "shapes", 8, 64, seed=0)
    toydata.make_dataset(tmp_path / "real", "shapes", 8, 64, seed=9, boxes_only=True)
    out = tmp_path / "out"
    argv = [
        "--synthetic",
        str(tmp_path / "syn"),
        "--real-test",
        str(tmp_path / "real"),
        "--real-split",
        "0.5",
        "--model",
        "ssdlite320_mobilenet_v3_large",
        "--image-size",
        "64",
        "--iters",
        "2",
        "--batch-size",
        "2",
        "--scaling-sizes",
        "4",
        "--overlay-images",
        "2",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert _run_cli(argv) == 0
    report = json.loads((out / "report.json").read_text())
    assert [r["name"] for r in report["runs"]] == ["synthetic", "real", "finetune", "mixed", "scaling_4"]
    assert all("segm" not in r["metrics"] and 0 <= r["metrics"]["bbox"]["AP"] <= 1 for r in report["runs"])
    for name in ("report.md", "scaling.png", "pr_curves.png", "box_sizes.png", "overlays/synthetic.png"):
        assert (out / name).is_file(), name
    by_name = {r["name"]: r for r in report["runs"]}  # box-rule evidence from the real *training* part
    assert by_name["synthetic"]["real_train_evidence"]["score_threshold"] == 0.6
    assert by_name["real"]["real_train_evidence"] is None
    assert "synthetic boxes grown" not in (out / "report.md").read_text()
    (appearance,) = report["appearance"]  # the synthetic set against the real training part
    assert [s["images"] for s in appearance["sets"]] == [8, 4]
    assert appearance["sets"][0]["summary"]["objects_per_image"]["count"] == 8
    assert "## Appearance (synthetic vs real photos)" in (out / "report.md").read_text()
    with pytest.raises(SimgenError, match="pass --resume"):
        _run_cli(argv)
    assert _run_cli([*argv, "--resume"]) == 0  # reuses every finished run
    toydata.make_dataset(tmp_path / "syn", "shapes", 8, 64, seed=1)  # re-rendered in place: new content
    with pytest.raises(SimgenError, match="finished with different settings"):
        _run_cli([*argv, "--resume"])


def test_eval_command_rejects_mismatched_categories(tmp_path: Path) -> None:
    toydata.make_dataset(tmp_path / "syn", "shapes", 2, 64)
    toydata.make_dataset(tmp_path / "real", "dice", 2, 64)
    argv = [
        "--synthetic",
        str(tmp_path / "syn"),
        "--real-test",
        str(tmp_path / "real"),
        "--out",
        str(tmp_path / "o"),
    ]
    with pytest.raises(
        SimgenError,
        match=r"categories \['circle', 'square', 'triangle'\] of set 'synthetic:syn' do "
        r"not exist in the test set",
    ):
        _run_cli(argv)


def test_synthetic_box_scale_grows_synthetic_boxes_only(tmp_path: Path) -> None:
    """--synthetic-box-scale 1.2: synthetic targets 1.2x wider about the same center, real ones untouched,
    and only runs that train on synthetic images change their fingerprint (so they are not reused)."""
    from simgen.evaluate.experiments import _training_data, fingerprint, load_study, plan_runs
    from simgen.evaluate.settings import EvalSettings

    syn = toydata.make_dataset(tmp_path / "syn", "shapes", 4, 128, seed=0).parent
    real = toydata.make_dataset(tmp_path / "real", "shapes", 8, 128, seed=3).parent

    def study_and_runs(scale: float) -> tuple:
        settings = EvalSettings(
            synthetic=[str(syn)],
            real_test=str(real),
            real_split=0.5,
            experiments=["synthetic", "real", "mixed"],
            synthetic_box_scale=scale,
            out=str(tmp_path / "out"),
        )
        study = load_study(settings)
        return study, {r.name: r for r in plan_runs(study)}

    plain, plain_runs = study_and_runs(1.0)
    scaled, scaled_runs = study_and_runs(1.2)
    before = _training_data(plain, plain_runs["mixed"], masks=False)
    after = _training_data(scaled, scaled_runs["mixed"], masks=False)
    for source, factor in ((0, 1.2), (1, 1.0)):  # mixed = [synthetic, real-train]
        for index in range(len(before.sources[source])):
            box0 = before.sources[source][index][1]["boxes"]
            box1 = after.sources[source][index][1]["boxes"]
            inside = (box1[:, 0] > 0) & (box1[:, 1] > 0) & (box1[:, 2] < 128) & (box1[:, 3] < 128)
            assert inside.any()
            width0, width1 = box0[:, 2] - box0[:, 0], box1[:, 2] - box1[:, 0]
            torch.testing.assert_close(width1[inside], factor * width0[inside])
            centers0, centers1 = box0[:, 0] + box0[:, 2], box1[:, 0] + box1[:, 2]
            torch.testing.assert_close(centers1[inside], centers0[inside])
            assert (box1 >= 0).all() and (box1 <= 128).all()
    prints = {
        name: (fingerprint(plain, plain_runs[name], None), fingerprint(scaled, scaled_runs[name], None))
        for name in ("synthetic", "real", "mixed")
    }
    assert prints["real"][0] == prints["real"][1]
    assert prints["synthetic"][0] != prints["synthetic"][1] and prints["mixed"][0] != prints["mixed"][1]


def test_corrupt_training_image_names_the_file_and_its_json(tmp_path: Path) -> None:
    coco_json = toydata.make_dataset(tmp_path / "set", "shapes", 2, 64, seed=0)
    coco_set = load_coco(coco_json, "train")
    broken = coco_set.image_path(coco_set.images[1])
    broken.write_bytes(broken.read_bytes()[:40])  # a truncated PNG
    dataset = loader.CocoDetection(coco_set, {c: c for c in coco_set.categories})
    assert dataset.read_image(0).shape[0] == 3
    with pytest.raises(
        SimgenError, match=rf"{broken.name}: not a readable image.*listed in .*{coco_json.name}"
    ):
        dataset.read_image(1)
