"""The one exception type for mistakes a user can fix: the CLI prints it as one line."""


class UserError(Exception):
    """Bad input from the user (a path, a config key, a value): the message names it."""


class TrainingDiverged(UserError):
    """The loss became NaN or Inf; training stopped and the last good checkpoint was kept."""
