"""Training machinery shared by every task: configs, optimizers, schedules, checkpoints, the trainer."""
