# What Something-Something v1 and v2 share: no flipping in training (upstream's choice), and the mirror
# classes for exp configs that turn it on. Included by something_v1.py and something_v2.py after
# _prepared_dataset.py (it uses read_class_keys).
from vai_data.transforms.augment import flip_label_map_from_names

# upstream trains Something-Something without flipping: a mirrored "left to right" is "right to left"
horizontal_flip = False


def flip_label_map() -> dict:
    """Mirror classes for a horizontal flip ("... left to right" <-> "... right to left"), from the class
    names; used only by exp configs that turn horizontal_flip on."""
    return flip_label_map_from_names(read_class_keys())
