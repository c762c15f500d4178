"""3D-convolution and transformer video models (I3D, I3D-NL, SlowFast, X3D, torchvision video models).

Importing this package registers ``i3d_resnet50``, ``i3d_nopool_resnet50``, ``i3d_nonlocal_resnet50``,
``slowfast_resnet50``, ``x3d_xs``, ``x3d_s``, ``x3d_m``, ``x3d_l``, ``r3d_18``, ``r2plus1d_18``, ``s3d``,
``mvit_v2_s``, ``swin3d_t``, ``swin3d_s`` and ``swin3d_b``.
"""

from ._report import LoadReport
from .caffe2 import NumpyOnlyUnpickler, UnsafePickleError, load_caffe2_blobs
from .i3d import I3DResNet, i3d_nonlocal_resnet50, i3d_nopool_resnet50, i3d_resnet50
from .inflate import inflate_resnet2d_state_dict, inflate_weight, load_inflated_resnet2d
from .nonlocal_block import NonLocal3d
from .pyslowfast import (
    convert_caffe2_blobs,
    convert_pyslowfast_state_dict,
    load_caffe2_checkpoint,
    load_pyslowfast_checkpoint,
)
from .slowfast import SlowFast, slowfast_resnet50
from .tv_video import TorchvisionVideo, mvit_v2_s, r2plus1d_18, r3d_18, s3d, swin3d_b, swin3d_s, swin3d_t
from .x3d import X3D, x3d_l, x3d_m, x3d_s, x3d_xs

__all__ = [
    "I3DResNet",
    "LoadReport",
    "NonLocal3d",
    "NumpyOnlyUnpickler",
    "UnsafePickleError",
    "SlowFast",
    "TorchvisionVideo",
    "X3D",
    "convert_caffe2_blobs",
    "convert_pyslowfast_state_dict",
    "load_caffe2_blobs",
    "load_caffe2_checkpoint",
    "load_pyslowfast_checkpoint",
    "i3d_nonlocal_resnet50",
    "i3d_nopool_resnet50",
    "i3d_resnet50",
    "inflate_resnet2d_state_dict",
    "inflate_weight",
    "load_inflated_resnet2d",
    "mvit_v2_s",
    "r2plus1d_18",
    "r3d_18",
    "s3d",
    "slowfast_resnet50",
    "swin3d_b",
    "swin3d_s",
    "swin3d_t",
    "x3d_l",
    "x3d_m",
    "x3d_s",
    "x3d_xs",
]
