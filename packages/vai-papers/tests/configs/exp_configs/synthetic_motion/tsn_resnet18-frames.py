# The shipped demo experiment read from JPEG frame folders: train crops leave their resize (and flip) to the
# device (resize_on_device, flip_on_device), DataLoader workers hand over padded batches of crop regions.
import vai_papers

include(str(vai_papers.config_root() / "exp_configs" / "synthetic_motion" / "_demo_base.py"))
include("_frames_dataset.py")

num_workers = 1  # the padded batches cross a process boundary (shared memory), as in real training


def get_torch_dataset(split):
    ds = frames_dataset(split)
    train = dataset_cfg.split2mode[split] == "train"
    assert ds.resize_on_device == ds.flip_on_device == train  # the defaults this config is here to test
    return ds


include("_checked_inputs.py")  # the reshape, after checking each batch
