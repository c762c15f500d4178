"""Converters for PySlowFast checkpoints: caffe2 ``.pkl`` blob pickles (read safely) and ``.pyth`` files."""

import pickle
import re
import struct

import numpy as np
import pytest
import torch
import vai_models
from vai_models.video3d.caffe2 import UnsafePickleError, caffe2_to_pyslowfast_name, load_caffe2_blobs
from vai_models.video3d.pyslowfast import load_caffe2_checkpoint, load_pyslowfast_checkpoint

torch.set_num_threads(1)

BN = {"s": "weight", "b": "bias", "rm": "running_mean", "riv": "running_var"}
BLOCKS = {2: 3, 3: 4, 4: 6, 5: 3}


def _resnet_c2_names(c2_prefix, vai_prefix):
    """caffe2 blob name -> vai key for one ResNet-50 pathway, written out from the caffe2 layout."""
    names = {f"{c2_prefix}conv1_w": f"{vai_prefix}conv1.weight"}
    names.update({f"{c2_prefix}res_conv1_bn_{k}": f"{vai_prefix}bn1.{v}" for k, v in BN.items()})
    for s, n in BLOCKS.items():
        for i in range(n):
            block = f"{vai_prefix}layer{s - 1}.{i}"
            for branch, idx in zip("abc", "123", strict=True):
                names[f"{c2_prefix}res{s}_{i}_branch2{branch}_w"] = f"{block}.conv{idx}.weight"
                for k, v in BN.items():
                    names[f"{c2_prefix}res{s}_{i}_branch2{branch}_bn_{k}"] = f"{block}.bn{idx}.{v}"
        names[f"{c2_prefix}res{s}_0_branch1_w"] = f"{vai_prefix}layer{s - 1}.0.downsample.0.weight"
        for k, v in BN.items():
            names[f"{c2_prefix}res{s}_0_branch1_bn_{k}"] = f"{vai_prefix}layer{s - 1}.0.downsample.1.{v}"
    return names


def _i3d_nl_c2_names():
    names = _resnet_c2_names("", "")
    for s, blocks in ((3, (1, 3)), (4, (1, 3, 5))):
        for i in blocks:
            for part in ("theta", "phi", "g", "out"):
                for k, v in (("w", "weight"), ("b", "bias")):
                    names[f"nonlocal_conv{s}_{i}_{part}_{k}"] = f"layer{s - 1}.{i}.nl.{part}.{v}"
            for k, v in BN.items():
                names[f"nonlocal_conv{s}_{i}_bn_{k}"] = f"layer{s - 1}.{i}.nl.bn.{v}"
    names.update({"pred_w": "fc.weight", "pred_b": "fc.bias"})
    return names


def _slowfast_c2_names():
    names = {**_resnet_c2_names("", "slow."), **_resnet_c2_names("t_", "fast.")}
    names["t_pool1_subsample_w"] = "fuse_stem.conv.weight"
    names.update({f"t_pool1_subsample_bn_{k}": f"fuse_stem.bn.{v}" for k, v in BN.items()})
    for s in (2, 3, 4):  # fusion after the last block of res2..res4
        last = BLOCKS[s] - 1
        names[f"t_res{s}_{last}_branch2c_bn_subsample_w"] = f"fuse_layer{s - 1}.conv.weight"
        for k, v in BN.items():
            names[f"t_res{s}_{last}_branch2c_bn_subsample_bn_{k}"] = f"fuse_layer{s - 1}.bn.{v}"
    names.update({"pred_w": "fc.weight", "pred_b": "fc.bias"})
    return names


def _py2_str(b: bytes) -> bytes:
    """A Python 2 ``str`` (SHORT_BINSTRING / BINSTRING opcode)."""
    return b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<i", len(b)) + b


def _py2_array(a: np.ndarray) -> bytes:
    """The opcodes Python 2 + numpy 1.x write for an array: ``numpy.core`` globals and a ``str`` payload."""
    shape = b"(" + b"".join(b"J" + struct.pack("<i", d) for d in a.shape) + b"t"
    dtype = b"cnumpy\ndtype\n" + _py2_str(a.dtype.str[1:].encode()) + b"K\x00K\x01\x87R"
    dtype += b"(K\x03" + _py2_str(b"<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    head = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + _py2_str(b"b") + b"\x87R"
    return head + b"(K\x01" + shape + dtype + b"\x89" + _py2_str(a.tobytes()) + b"tb"


def _write_c2_pickle(path, model, names, extra=None, python2=False):
    """A caffe2-style ``{"blobs": {...}}`` pickle: protocol 2, as Python 2 or Python 3 would write it."""
    own = model.state_dict()
    rng = np.random.default_rng(0)
    blobs = {c2: rng.standard_normal(tuple(own[key].shape)).astype(np.float32) for c2, key in names.items()}
    blobs.update(extra or {})
    if python2:
        items = b"".join(_py2_str(k.encode()) + _py2_array(np.ascontiguousarray(v)) for k, v in blobs.items())
        path.write_bytes(b"\x80\x02}(" + _py2_str(b"blobs") + b"}(" + items + b"uu.")
    else:
        with open(path, "wb") as f:
            pickle.dump({"blobs": blobs}, f, protocol=2)
    return blobs


def _assert_loaded(model, blobs, names):
    own = model.state_dict()
    for c2, key in names.items():
        assert torch.equal(own[key], torch.from_numpy(blobs[c2])), (c2, key)


def test_i3d_nonlocal_caffe2_pickle_loads_every_tensor(tmp_path):
    model = vai_models.create_model("i3d_nonlocal_resnet50", 400, 8, width=8)
    names = _i3d_nl_c2_names()
    assert set(names.values()) == {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    junk = {
        "conv1_w_momentum": np.zeros(3, np.float32),
        "model_iter": np.array([1000], np.int64),
        "lr": np.array([0.1], np.float32),
        "res9_0_branch2a_w": np.zeros(2, np.float32),
    }
    path = tmp_path / "I3D_NLN_8x8_R50.pkl"
    blobs = _write_c2_pickle(path, model, names, junk, python2=True)  # the zoo files come from Python 2
    report = load_caffe2_checkpoint(model, path)
    assert report.missing == [] and report.mismatched == []
    # solver state is dropped silently; a layer the model lacks is reported with its caffe2 name
    assert report.unexpected == ["layer8.0.conv1.weight (from res9_0_branch2a_w)"]
    _assert_loaded(model, blobs, names)


def test_slowfast_caffe2_pickle_including_lateral_fusions(tmp_path):
    model = vai_models.create_model("slowfast_resnet50", 400, 8, width=16)
    names = _slowfast_c2_names()
    assert set(names.values()) == {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "SLOWFAST_8x8_R50.pkl"
    blobs = _write_c2_pickle(path, model, names)
    report = load_caffe2_checkpoint(model, path, strict=True)
    assert not report.missing and not report.unexpected
    _assert_loaded(model, blobs, names)


def test_caffe2_classifier_of_other_size_is_skipped(tmp_path):
    big = vai_models.create_model("i3d_resnet50", 400, 8, width=8)
    names = {k: v for k, v in _i3d_nl_c2_names().items() if "nonlocal" not in k}
    path = tmp_path / "I3D_8x8_R50.pkl"
    _write_c2_pickle(path, big, names)
    small = vai_models.create_model("i3d_resnet50", 10, 8, width=8)
    report = load_caffe2_checkpoint(small, path)
    assert sorted(k.split(" ")[0] for k in report.mismatched) == ["fc.bias", "fc.weight"]
    assert report.missing == []  # the skipped classifier is shape-mismatched, not also missing
    assert "missing" not in report.summary() and "shape-mismatched 2" in report.summary()
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_caffe2_checkpoint(small, path, strict=True)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    with open(path, "wb") as f:
        pickle.dump({"blobs": {"conv1_w": _Exploit(marker)}}, f, protocol=2)
    with pytest.raises(UnsafePickleError, match=r"evil\.pkl: refusing to load (posix|os)\.system"):
        load_caffe2_blobs(path)
    assert not marker.exists()
    path.write_bytes(pickle.dumps({"blobs": {"x": torch.nn.Linear(1, 1)}}, protocol=2))
    with pytest.raises(UnsafePickleError, match="refusing to load"):
        load_caffe2_checkpoint(vai_models.create_model("i3d_resnet50", 4, 8, width=8), path)


def test_caffe2_pickle_errors_are_one_clear_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pkl does not exist"):
        load_caffe2_blobs(tmp_path / "missing.pkl")
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps([1, 2], protocol=2))
    with pytest.raises(ValueError, match="expected a dict with a 'blobs' dict"):
        load_caffe2_blobs(path)
    with pytest.raises(ValueError, match="i3d_\\*, slowfast_\\* and x3d_\\*"):
        load_caffe2_checkpoint(vai_models.create_model("r3d_18", 4, 8), path)


def test_caffe2_names_to_pyslowfast_names():
    assert caffe2_to_pyslowfast_name("res4_5_branch2b_bn_riv") == "s4.pathway0_res5.branch2.b_bn.running_var"
    assert caffe2_to_pyslowfast_name("nonlocal_conv3_1_theta_w") == "s3.pathway0_nonlocal1.conv_theta.weight"
    assert caffe2_to_pyslowfast_name("t_res3_3_branch2c_bn_subsample_bn_rm") == "s3_fuse.bn.running_mean"
    assert caffe2_to_pyslowfast_name("conv1_w_momentum") is None


def _vai_to_pyslowfast(key, family):
    """Inverse layout written from PySlowFast's module tree (s1.pathway0_stem, s2.pathway0_res0.branch2.a ...)."""
    pathway = "0"
    if fuse := re.fullmatch(r"fuse_(stem|layer\d)\.(conv|bn)\.(.+)", key):
        stage = 1 if fuse[1] == "stem" else int(fuse[1][-1]) + 1
        return f"s{stage}_fuse.{'conv_f2s' if fuse[2] == 'conv' else 'bn'}.{fuse[3]}"
    if family == "slowfast":
        pathway = "0" if key.startswith("slow.") else "1"
        key = key.split(".", 1)[1] if key.startswith(("slow.", "fast.")) else key
    stem = {
        "conv1.": "conv.",
        "bn1.": "bn.",
        "stem.conv_xy.": "conv_xy.",
        "stem.conv_t.": "conv.",
        "stem.bn.": "bn.",
    }
    for old, new in stem.items():
        if key.startswith(old):
            return f"s1.pathway{pathway}_stem.{new}{key[len(old) :]}"
    head = {
        "fc.": "head.projection.",
        "conv5.": "head.conv_5.",
        "bn5.": "head.conv_5_bn.",
        "lin5.": "head.lin_5.",
    }
    for old, new in head.items():
        if key.startswith(old):
            return new + key[len(old) :]
    layer, block, rest = re.fullmatch(r"layer(\d)\.(\d+)\.(.+)", key).groups()
    stage = int(layer) + 1
    if rest.startswith("nl."):
        part, param = rest[3:].split(".")
        part = "bn" if part == "bn" else f"conv_{part}"
        return f"s{stage}.pathway0_nonlocal{block}.{part}.{param}"
    branch = {
        "conv1.": "branch2.a.",
        "bn1.": "branch2.a_bn.",
        "conv2.": "branch2.b.",
        "bn2.": "branch2.b_bn.",
    }
    branch |= {"conv3.": "branch2.c.", "bn3.": "branch2.c_bn.", "se.": "branch2.se."}
    branch |= {"downsample.0.": "branch1.", "downsample.1.": "branch1_bn."}
    for old, new in branch.items():
        if rest.startswith(old):
            return f"s{stage}.pathway{pathway}_res{block}.{new}{rest[len(old) :]}"
    raise AssertionError(key)


@pytest.mark.parametrize(
    ("name", "family", "kwargs"),
    [("x3d_m", "x3d", {}), ("i3d_nonlocal_resnet50", "i3d", {"width": 8})],
)
def test_pyslowfast_pyth_checkpoint(tmp_path, name, family, kwargs):
    source = vai_models.create_model(name, 400, 8, **kwargs)
    gen = torch.Generator().manual_seed(0)
    sd = {
        k: torch.randn(v.shape, generator=gen) if v.is_floating_point() else v
        for k, v in source.state_dict().items()
    }
    psf = {"module." + _vai_to_pyslowfast(k, family): v for k, v in sd.items()}  # saved from DDP
    psf["module.head.act.dummy"] = torch.zeros(1)
    path = tmp_path / "checkpoint_epoch_00010.pyth"
    torch.save({"epoch": 10, "model_state": psf, "cfg": "MODEL:\n  ARCH: x3d\n"}, path)
    target = vai_models.create_model(name, 400, 8, **kwargs)
    report = load_pyslowfast_checkpoint(target, path)
    assert report.missing == [] and report.mismatched == []
    assert report.unexpected == ["module.head.act.dummy"]
    for key, value in target.state_dict().items():
        assert torch.equal(value, sd[key]), key


def test_checkpoint_filter_fn_accepts_pyslowfast_and_vai_layouts():
    model = vai_models.create_model("slowfast_resnet50", 10, 8, width=16)
    own = model.state_dict()
    psf = {_vai_to_pyslowfast(k, "slowfast"): v for k, v in own.items()}
    psf["head.act.extra"] = torch.zeros(1)
    filtered = model.checkpoint_filter_fn(psf)
    assert set(filtered) == set(own) | {"head.act.extra"}  # unmapped keys kept for the loader to report
    assert model.checkpoint_filter_fn(own).keys() == own.keys()  # a vai checkpoint passes through
