# Test dataset: features extracted by `vai-train feature` from a demo run (path in $VAI_TEST_FEATURES).
num_classes = 8
task = "single_label"
