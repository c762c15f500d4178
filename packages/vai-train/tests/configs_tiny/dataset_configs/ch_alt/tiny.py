"""Channel variant of the tiny dataset (tests -c:d)."""
# ruff: noqa: F821

include("../tiny.py")
num_classes = 4
channel_marker = "alt"
