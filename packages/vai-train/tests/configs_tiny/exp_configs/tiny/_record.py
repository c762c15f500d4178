# Shared by the recording test experiments (included): append one JSON line per hook call to $VAI_TEST_HOOK_LOG.
import json
import os

batch_size = 8
input_frame_length = 2
num_workers = 0


def _record(hook, **info):
    with open(os.environ["VAI_TEST_HOOK_LOG"], "a") as f:
        f.write(json.dumps({"hook": hook, **info}) + "\n")
