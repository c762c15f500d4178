"""An exp config without get_torch_dataset (tests the missing-item error)."""

batch_size = 4
