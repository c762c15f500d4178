# Test dataset: a few JPEG images in image-split format (path in $VAI_TEST_IMAGES).
num_classes = 2
task = "single_label"
