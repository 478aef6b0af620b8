"""Training engine pieces: lr scaling and schedule, no-decay groups, divergence, checkpoints, eval loading."""
import math

import pytest
import timm
import torch

import ablate.models.deit  # noqa: F401
from ablate.engine.checkpoint import load_checkpoint, save_checkpoint
from ablate.engine.optim import Diverged, Stepper, lr_at, param_groups, scaled_lr
from ablate.models.weights import checkpoint_state, load_into
from ablate.results.rundir import RunDir
from ablate.rpe import RPEConfig


def test_lr_scales_with_batch_like_deit():
    assert scaled_lr(5e-4, 1024) == pytest.approx(1e-3)
    assert scaled_lr(5e-4, 512) == pytest.approx(5e-4)


def test_schedule_warms_up_then_cosine_to_min():
    kw = dict(total=100, warmup=10, lr=1e-3, min_lr=1e-5, warmup_lr=1e-6)
    assert lr_at(0, **kw) == pytest.approx(1e-6)
    assert lr_at(5, **kw) == pytest.approx(1e-6 + (1e-3 - 1e-6) / 2)
    assert lr_at(10, **kw) == pytest.approx(1e-3)
    assert lr_at(55, **kw) == pytest.approx(1e-5 + (1e-3 - 1e-5) / 2)
    assert lr_at(100, **kw) == pytest.approx(1e-5)
    values = [lr_at(s, **kw) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_step_schedule_holds_lr_then_divides_by_ten():
    kw = dict(total=100, warmup=10, lr=1e-3, min_lr=1e-5, warmup_lr=1e-6, drop=60)
    assert lr_at(5, **kw) == pytest.approx(1e-6 + (1e-3 - 1e-6) / 2)
    assert [lr_at(s, **kw) for s in (10, 59)] == pytest.approx([1e-3, 1e-3])
    assert [lr_at(s, **kw) for s in (60, 99)] == pytest.approx([1e-4, 1e-4])


def test_decay_all_puts_every_parameter_in_one_decayed_group():
    model = timm.create_model("deit_micro_patch4_28", rpe=RPEConfig(rpe_on="qkv"))
    groups = param_groups(model, 1e-4, decay_rpe=False, decay_all=True)
    assert [g["weight_decay"] for g in groups] == [1e-4]
    assert sorted(map(id, groups[0]["params"])) == sorted(id(p) for p in model.parameters())


def test_lr_drop_is_an_epoch_turned_into_steps():
    from omegaconf import OmegaConf

    from ablate.engine.optim import build_stepper
    train = OmegaConf.create(dict(base_lr=5.12, batch_size=1, amp=False, clip_grad=None, epochs=3, warmup_epochs=0,
                                  min_lr=0.0, warmup_lr=0.0, lr_drop=2))
    layer = torch.nn.Linear(2, 1)
    step = build_stepper([{"params": list(layer.parameters()), "weight_decay": 0.0}], torch.device("cpu"), train, 5)
    lrs = []
    for _ in range(15):
        lrs.append(step.optimizer.param_groups[0]["lr"])
        step(layer(torch.ones(1, 2)).sum())
    assert lrs == pytest.approx([0.01] * 10 + [0.001] * 5)


@pytest.mark.parametrize("decay_rpe", [False, True])
def test_no_decay_groups(decay_rpe):
    model = timm.create_model("deit_micro_patch4_28", rpe=RPEConfig(rpe_on="qkv"))
    decay, no_decay = param_groups(model, 0.05, decay_rpe)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    not_decayed = {names[id(p)] for p in no_decay["params"]}
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert {"pos_embed", "cls_token", "blocks.0.norm1.weight", "blocks.0.attn.qkv.bias"} <= not_decayed
    assert {"blocks.0.attn.qkv.weight", "head.weight"} <= decayed
    tables = {n for n in names.values() if n.endswith(("lookup_table_weight", "lookup_table_bias"))}
    assert tables and tables <= (decayed if decay_rpe else not_decayed)
    assert len(decayed) + len(not_decayed) == len(names)


def _stepper(model: torch.nn.Module) -> Stepper:
    params = list(model.parameters())
    return Stepper(torch.optim.AdamW(params), params, torch.device("cpu"), amp=True, clip_grad=1.0,
                   total_steps=10, warmup_steps=0, lr=0.1, min_lr=0.0, warmup_lr=0.0)


def test_stepper_steps_and_follows_the_schedule():
    model = torch.nn.Linear(3, 1)
    step = _stepper(model)
    before = model.weight.detach().clone()
    step(model(torch.ones(2, 3)).sum())
    assert not torch.equal(before, model.weight) and step.global_step == 1
    assert step.optimizer.param_groups[0]["lr"] == pytest.approx(lr_at(1, 10, 0, 0.1, 0.0, 0.0))


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_stepper_raises_diverged_on_non_finite_loss(bad):
    model = torch.nn.Linear(3, 1)
    step = _stepper(model)
    before = model.weight.detach().clone()
    with pytest.raises(Diverged, match="loss became"):
        step(model(torch.ones(2, 3)).sum() * bad)
    assert torch.equal(before, model.weight)


def test_checkpoint_round_trip_and_atomic(tmp_path):
    run = RunDir(tmp_path)
    assert load_checkpoint(run) is None
    shape = {"stepper": {}, "history": [], "size": 28, "resumed_at": None}  # what a run stores beside its model
    save_checkpoint(run, {**shape, "model": {"w": torch.arange(3)}})
    save_checkpoint(run, {**shape, "model": {"w": torch.arange(4)}, "history": [{"epoch": 0}]})
    state = load_checkpoint(run)
    assert state["history"] == [{"epoch": 0}] and torch.equal(state["model"]["w"], torch.arange(4))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pth"]


def test_authors_style_checkpoint_loads_and_mismatch_is_named(tmp_path):
    model = timm.create_model("deit_micro_patch4_28", rpe=RPEConfig())
    path = tmp_path / "authors.pth"
    torch.save({"model": model.state_dict(), "epoch": 299}, path)
    fresh = timm.create_model("deit_micro_patch4_28", rpe=RPEConfig())
    load_into(fresh, checkpoint_state(path), path)
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), model.state_dict().values()))

    plain = timm.create_model("deit_micro_patch4_28", rpe=None, num_classes=7)
    with pytest.raises(ValueError) as error:
        load_into(plain, checkpoint_state(path), path)
    message = str(error.value)
    assert "does not fit the model" in message and "unexpected" in message and "lookup_table_weight" in message
    assert "shape mismatch 2: head.weight (10, 96) vs model (7, 96)" in message
    assert "\n" not in message


def test_checkpoint_state_rejects_non_checkpoints(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        checkpoint_state(junk)
    with pytest.raises(ValueError, match="checkpoint not found"):
        checkpoint_state(tmp_path / "absent.pth")


def test_tensorboard_logs_epoch_scalars_when_enabled(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from ablate.engine.tensorboard import TensorBoard
    board = TensorBoard(tmp_path, enabled=True)
    board.log({"epoch": 0, "top1": 50.0, "loss": 1.5, "note": "text is skipped"})
    board.log({"epoch": 1, "top1": 60.0, "loss": 1.0, "note": "text is skipped"})
    board.close()
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == ["loss", "top1"]
    assert [(e.step, e.value) for e in events.Scalars("top1")] == [(0, 50.0), (1, 60.0)]

    off = TensorBoard(tmp_path / "off", enabled=False)
    off.log({"epoch": 0, "top1": 1.0})
    off.close()
    assert not (tmp_path / "off").exists()
