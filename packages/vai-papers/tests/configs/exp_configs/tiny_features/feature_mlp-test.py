# Train the shipped feature_mlp model config on features saved by `vai-train feature`.
import os

from vai_data import FeatureDataset

batch_size = 8
num_epochs = 2


def _features():
    return FeatureDataset.from_file(os.environ["VAI_TEST_FEATURES"])


def load_model():
    return model_cfg.load_model(dataset_cfg.num_classes, input_feature_dim=_features().features.shape[1])


def get_torch_dataset(split):
    return _features()
