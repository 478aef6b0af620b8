"""The error of a config that cannot be made: kept apart from Hydra so that the command line can catch it
without loading Hydra (0.1 s) for commands that never compose."""


class ConfigError(ValueError):
    """A config that cannot be composed; the message is one line."""
