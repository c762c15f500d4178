"""``vai-train predict`` on real video files: the shipped demo's val pipeline (vai_data's
``VideoClipDataset.with_videos``) gives them the scores ``eval -p`` gives the same videos in the split."""

from __future__ import annotations

import numpy as np
import vai_papers
from vai_data import read_split_file
from vai_data.synth import SYNTH_CLASSES
from vai_papers_test_paper_configs import demo_args
from vai_train import run_eval, run_predict, run_train
from vai_train.reporting import load_predictions


def test_predict_scores_match_eval_for_split_videos(demo_env):
    args = demo_args(demo_env / "exp")
    args += ["--config-root", str(vai_papers.config_root())]
    run_dir = run_train(args + ["-e", "1"]).run_dir
    run_eval(args + ["-l", "1", "-m", "multicrop", "-p"])
    evaluated = load_predictions(run_dir / "predictions" / "epoch_0001_multicropval_multicrop.npz")
    data = demo_env / "data" / "synthetic_motion"
    rows = read_split_file(data / "splits" / "val.csv").rows[:3]
    videos = [str(data / r.path) for r in rows]
    res = run_predict(args + ["-l", "1", "-m", "multicrop", *videos, "--top", "3"])
    where = [int(np.flatnonzero(evaluated["video_ids"] == r.video_id)[0]) for r in rows]
    assert np.allclose(res.metrics["probs"].numpy(), evaluated["probs"][where], atol=1e-5)
    names = [t[0]["class"] for t in res.metrics["top"]]
    assert set(names) <= set(SYNTH_CLASSES)  # class_keys
