"""Base with the BatchNorm net, 2 epochs; epoch_start_script records what each rank sees of the summary,
and its BatchNorm's running mean after its last training step, in $VAI_TEST_HOOK_LOG (JSON lines) when that is set."""
# ruff: noqa: F821

include("tinynet-base.py")
import json  # noqa: E402
import os  # noqa: E402

num_epochs = 2


def epoch_start_script(epoch, exp, args, rank, world_size, train_kit):
    if "VAI_TEST_HOOK_LOG" in os.environ:
        with open(os.environ["VAI_TEST_HOOK_LOG"], "a") as f:
            rows = [r["epoch"] for r in exp.summary]
            model = getattr(train_kit["model"], "module", train_kit["model"])  # DDP-wrapped or not
            mean = model.trained_mean.tolist() if hasattr(model, "trained_mean") else None
            f.write(
                json.dumps({"epoch": epoch, "rank": rank, "summary_epochs": rows, "bn_mean": mean}) + "\n"
            )
