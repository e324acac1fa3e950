"""The way back: actions on the cluster (drain, requeue, ...), their palette commands, and the
audit log read back as a source."""
