"""Plain-Python config system: config roots, file execution with ``include()``, hooks with defaults."""

from vai_train.config.experiment import ExpConfig, load_exp_config, normalise_task
from vai_train.config.loader import ConfigError, exec_config
from vai_train.config.roots import ConfigNotFoundError, ConfigRoot, discover_roots, find_config, list_configs

__all__ = [
    "ConfigError",
    "ConfigNotFoundError",
    "ConfigRoot",
    "ExpConfig",
    "discover_roots",
    "exec_config",
    "find_config",
    "list_configs",
    "load_exp_config",
    "normalise_task",
]
