"""Our models hold timm's model contract: every kind of check timm's own tests (tests/test_models.py of
pytorch-image-models) make and its deit_tiny_patch16_224 passes here, made on timm's DeiT as the reference and on
ours with contextual iRPE (K and QKV, product and cross, tiny and small) and on deit_pico. Our 224-pixel models
run at 48 x 64 (a non-square 3 x 4 grid: they take any size; timm's DeiT takes 224 only), deit_pico at 28 x 36.
The 224-pixel models (timm's too) are built with 3 of their 12 blocks: every block is the same code, and 12 make
scripting and tracing four times slower.
"""
import argparse
import io

import pytest
import timm
import torch
from timm.models import FeatureInfo, get_notrace_functions, get_notrace_modules, get_pretrained_cfg
from torchvision.models.feature_extraction import NodePathTracer

import ablate  # noqa: F401  (registers our names)
from ablate.models.registry import MODELS
from ablate.models.weights import checkpoint_state, load_into

REFERENCE = "deit_tiny_patch16_224"  # timm's own DeiT
OURS = ["deit_pico_patch4_28", "deit_tiny_patch16_224_ctx_product_50_shared_k",
        "deit_tiny_patch16_224_ctx_product_50_shared_qkv", "deit_tiny_patch16_224_ctx_cross_56_shared_qkv",
        "deit_small_patch16_224_ctx_product_50_shared_qkv"]
NAMES = [REFERENCE, *OURS]
pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit.[a-z]+` is deprecated:FutureWarning"),  # timm checks it
              # torch's own GraphModule.__init__ annotates an empty attribute, which TorchScript warns about
              pytest.mark.filterwarnings("ignore:The TorchScript type system doesn't support instance:UserWarning")]


@pytest.fixture(autouse=True, scope="module")
def _plain_jit_executor():
    """Like timm's tests: TorchScript's executor without profiling runs (no fusion needed), for fast first calls."""
    executor, profiling = torch._C._jit_set_profiling_executor(True), torch._C._jit_set_profiling_mode(False)
    yield
    torch._C._jit_set_profiling_executor(executor)
    torch._C._jit_set_profiling_mode(profiling)


def _grid(name: str) -> tuple[int, int]:
    """The patch grid of the input _input gives the model."""
    return (14, 14) if name == REFERENCE else (7, 9) if name.endswith("_28") else (3, 4)


def _input(name: str, batch: int = 1) -> torch.Tensor:
    channels = get_pretrained_cfg(name).input_size[0]
    patch = 4 if name.endswith("_28") else 16
    height, width = _grid(name)
    return torch.randn(batch, channels, height * patch, width * patch, generator=torch.Generator().manual_seed(0))


def _create(name: str, **kwargs: object) -> torch.nn.Module:
    torch.manual_seed(0)
    model = timm.create_model(name, **({} if name.endswith("_28") else {"depth": 3}), **kwargs)
    with torch.no_grad():  # iRPE tables start at zero: give them values, so that they change the outputs
        for parameter_name, parameter in model.named_parameters():
            if "lookup_table" in parameter_name:
                parameter.normal_(std=0.1)
    return model


def _fx(model: torch.nn.Module) -> torch.fx.GraphModule:
    """The model (in its current train/eval mode) traced by torch.fx with the tracer and the leaf modules and
    functions of timm's tests."""
    tracer = NodePathTracer(leaf_modules=get_notrace_modules(), autowrap_functions=get_notrace_functions(),
                            param_shapes_constant=True)
    return torch.fx.GraphModule(model, tracer.trace(model))


def _assert_every_parameter_has_a_gradient(model: torch.nn.Module) -> None:
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"no finite gradient for {missing[:5]}"


@pytest.mark.parametrize("name", NAMES)
def test_forward_with_and_without_grad_checkpointing(name):
    model = _create(name).eval()
    x = _input(name)
    out = model(x)
    assert out.shape == (1, model.num_classes) and torch.isfinite(out).all()
    model.set_grad_checkpointing()
    torch.testing.assert_close(model(x), out)


@pytest.mark.parametrize("name", NAMES)
def test_backward_reaches_every_parameter(name):
    model = _create(name, num_classes=42).train()
    out = model(_input(name, batch=2))
    out.mean().backward()
    assert out.shape == (2, 42)
    _assert_every_parameter_has_a_gradient(model)


@pytest.mark.parametrize("name", NAMES)
def test_default_cfg_features_head_and_classifier_reset(name):
    model = _create(name).eval()
    cfg = model.pretrained_cfg
    assert cfg == get_pretrained_cfg(name).to_dict()
    state = model.state_dict()
    assert f"{cfg['classifier']}.weight" in state and f"{cfg['first_conv']}.weight" in state
    x = _input(name)
    features = model.forward_features(x)
    height, width = _grid(name)
    assert features.shape == (1, model.num_prefix_tokens + height * width, model.num_features)
    pre_logits = model.forward_head(features, pre_logits=True)
    assert pre_logits.shape == (1, model.head_hidden_size)
    model.reset_classifier(0)
    assert model.num_classes == 0 and model(x).shape == pre_logits.shape
    assert _create(name, num_classes=0).eval()(x).shape == (1, model.num_features)


@pytest.mark.parametrize("name", NAMES)
def test_torchscript_matches_eager_and_saves(name):
    with timm.layers.set_scriptable(True):
        model = _create(name).eval()
    x = _input(name)
    scripted = torch.jit.script(model)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x))
        buffer = io.BytesIO()
        torch.jit.save(scripted, buffer)  # a whole TorchScript program: no call back into Python
        buffer.seek(0)
        torch.testing.assert_close(torch.jit.load(buffer)(x), model(x))


@pytest.mark.parametrize("name", NAMES)
def test_features_only_gives_every_requested_block_on_the_grid(name):
    model = _create(name, features_only=True).eval()
    assert model.feature_info.channels() == [model.model.embed_dim] * 3  # the last three blocks (timm's default)
    outputs = model(_input(name))
    assert [o.shape for o in outputs] == [(1, model.model.embed_dim, *_grid(name))] * 3
    assert all(torch.isfinite(o).all() for o in outputs)


@pytest.mark.parametrize("name", NAMES)
def test_forward_intermediates_per_block(name):
    model = _create(name).eval()
    info = FeatureInfo(model.feature_info, len(model.feature_info))
    assert len(info) == len(model.blocks) and info.reduction() == [model.patch_embed.patch_size[0]] * len(model.blocks)
    x = _input(name)
    final, intermediates = model.forward_intermediates(x)
    assert [y.shape for y in intermediates] == [(1, model.embed_dim, *_grid(name))] * len(model.blocks)
    torch.testing.assert_close(final, model.forward_features(x))
    last = model.forward_intermediates(x, indices=[-1], output_fmt="NLC", norm=True, intermediates_only=True)
    torch.testing.assert_close(last[0], final[:, model.num_prefix_tokens:])
    model.set_grad_checkpointing()
    torch.testing.assert_close(model.forward_intermediates(x)[0], final)


@pytest.mark.parametrize("name", NAMES)
def test_fx_forward_equals_eager(name):
    model = _create(name).eval()
    x = _input(name)
    with torch.inference_mode():
        out = model(x)
        assert torch.equal(_fx(model)(x), out)


@pytest.mark.parametrize("name", NAMES)
def test_fx_backward_reaches_every_parameter(name):
    graph = _fx(_create(name, num_classes=42).train())
    out = graph(_input(name, batch=2))
    out.mean().backward()
    assert out.shape == (2, 42)
    _assert_every_parameter_has_a_gradient(graph)


@pytest.mark.parametrize("name", NAMES)
def test_fx_then_torchscript(name):
    with timm.layers.set_scriptable(True):
        model = _create(name).eval()
    x = _input(name)
    scripted = torch.jit.script(_fx(model))
    with torch.inference_mode():
        torch.testing.assert_close(scripted(x), model(x))


def test_every_name_has_a_pretrained_config_and_no_download_location():
    for name, arch in MODELS.items():
        cfg = get_pretrained_cfg(name)
        assert cfg.input_size == (arch.get("in_chans", 3), arch["img_size"], arch["img_size"]), name
        assert cfg.num_classes == arch.get("num_classes", 1000) and len(cfg.mean) == len(cfg.std) == cfg.input_size[0]
        assert (cfg.first_conv, cfg.classifier) == ("patch_embed.proj", "head")
        assert cfg.license and "arXiv:2107.14222" in cfg.paper_ids and cfg.origin_url, name
        assert cfg.url == cfg.hf_hub_id == "" and not cfg.has_weights, name
        if "_ctx_" in name:  # the authors' evaluation: resize 256, centre-crop 224, bicubic
            assert (cfg.crop_pct, cfg.interpolation) == (224 / 256, "bicubic")
    assert not set(MODELS) & set(timm.list_models(pretrained=True))


def _authors_checkpoint(model: torch.nn.Module, path) -> None:
    """The authors' DeiT training scripts save the weights under "model", beside the epoch and their arguments."""
    torch.save({"model": model.state_dict(), "epoch": 299, "args": argparse.Namespace(lr=5e-4)}, path)


def test_pretrained_loads_the_authors_checkpoint_file_as_timm_adapts_it(tmp_path):
    name, path = "deit_tiny_patch16_224_ctx_product_50_shared_k", tmp_path / "authors.pth"
    source = timm.create_model(name, depth=3)
    with torch.no_grad():
        for parameter in source.parameters():
            parameter.normal_()
    _authors_checkpoint(source, path)

    def load(**kwargs: object) -> torch.nn.Module:
        return timm.create_model(name, depth=3, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **kwargs)

    loaded = load()
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), source.state_dict().values()))
    assert loaded.pretrained_cfg["file"] == str(path) and "state_dict" not in loaded.pretrained_cfg
    # timm's adaptations: another head is dropped (left random), a grey first conv sums the colour channels
    adapted = load(num_classes=5, in_chans=1)
    assert adapted.head.weight.shape == (5, 192)
    torch.testing.assert_close(adapted.patch_embed.proj.weight, source.patch_embed.proj.weight.sum(1, keepdim=True))
    table = source.blocks[2].attn.rpe_k.lookup_table_weight
    assert torch.equal(adapted.blocks[2].attn.rpe_k.lookup_table_weight, table)
    features = load(features_only=True)
    assert torch.equal(features.model.blocks[2].attn.rpe_k.lookup_table_weight, table)


def test_pretrained_refuses_a_checkpoint_that_does_not_fit_as_ablate_eval_does(tmp_path):
    path = tmp_path / "k.pth"
    _authors_checkpoint(_create("deit_pico_patch4_28", rpe="ctx_product_50_shared_k"), path)
    for kwargs, needle in [({}, "unexpected 4: blocks.0.attn.rpe_k.lookup_table_weight"),
                           ({"rpe": "ctx_product_50_shared_qkv"}, "missing 8: blocks.0.attn.rpe_q.lookup_table_weight"),
                           ({"embed_dim": 96, "num_heads": 3}, "cls_token (1, 1, 64) vs model (1, 1, 96)")]:
        with pytest.raises(ValueError) as timm_error:
            timm.create_model("deit_pico_patch4_28", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)),
                              **kwargs)
        with pytest.raises(ValueError) as eval_error:
            load_into(timm.create_model("deit_pico_patch4_28", **kwargs), checkpoint_state(path), path)
        assert str(timm_error.value) == str(eval_error.value) and needle in str(timm_error.value)
        assert str(timm_error.value).startswith(f"checkpoint {path} does not fit the model: ")
    with pytest.raises(ValueError, match="checkpoint not found"):
        timm.create_model("deit_pico_patch4_28", pretrained=True, pretrained_cfg_overlay=dict(file=str(path) + "x"))
    with pytest.raises(ValueError, match="never downloaded: pass pretrained_cfg_overlay=dict.file=PATH."):
        timm.create_model("deit_pico_patch4_28", pretrained=True)


@pytest.mark.parametrize("backend", ["eager", "sdpa"])
def test_torchscript_and_fx_with_each_scriptable_backend(backend):
    model = _create("deit_pico_patch4_28", rpe="ctx_cross_56_shared_qkv", attn_backend=backend).eval()
    x = _input("deit_pico_patch4_28")
    with torch.no_grad():
        out = model(x)
        torch.testing.assert_close(torch.jit.script(model)(x), out)
        assert torch.equal(_fx(model)(x), out)


@pytest.mark.parametrize("backend", ["flex", "triton"])
def test_torchscript_refuses_the_kernel_backends_in_one_line(backend):
    model = _create("deit_pico_patch4_28", rpe="ctx_product_50_shared_k", attn_backend=backend)
    with pytest.raises(ValueError, match=f"attention backend '{backend}' cannot be compiled by TorchScript") as error:
        torch.jit.script(model)
    assert "\n" not in str(error.value) and "attn_backend='sdpa'" in str(error.value)


@pytest.mark.parametrize("kwargs", [{"abs_pos": "sincos"}, {"pe": "rope_axial", "abs_pos": "none"},
                                    {"pe": "bias_table"}, {"pe": "alibi"},
                                    {"pe": "peg", "pe_options": {"blocks": [0, 2]}},
                                    {"pe": "txl", "abs_pos": "none"}, {"pe": "sasa", "abs_pos": "none"}],
                         ids=lambda kwargs: "-".join(map(str, kwargs.values())))
def test_other_encodings_script_and_trace(kwargs):
    model = _create("deit_pico_patch4_28", **kwargs).eval()
    with torch.no_grad():
        for parameter in model.parameters():  # every encoding's parameters away from zero
            parameter.add_(0.05 * torch.randn_like(parameter))
    x = _input("deit_pico_patch4_28")
    with torch.no_grad():
        out = model(x)
        torch.testing.assert_close(torch.jit.script(model)(x), out)
        assert torch.equal(_fx(model)(x), out)
