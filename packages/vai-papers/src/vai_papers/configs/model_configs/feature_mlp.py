# MLP on pre-extracted features, [Linear -> ReLU -> BatchNorm1d] x L -> Linear (upstream ch_beta/featuremodel).
# Inputs are (N, D) feature vectors (vai_data.FeatureDataset), not clips.
MODEL_NAME = "feature_mlp"
include("_vai_model.py")
input_frame_length = 1


def load_model(
    num_classes, input_frame_length=1, input_feature_dim=2048, num_layers=2, num_units=128, **kwargs
):
    """Feature MLP; ``input_feature_dim`` must match the features' width."""
    return create_model(
        MODEL_NAME,
        num_classes=num_classes,
        num_frames=1,
        input_feature_dim=input_feature_dim,
        num_layers=num_layers,
        num_units=num_units,
        **kwargs,
    )
