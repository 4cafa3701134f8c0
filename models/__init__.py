"""The anomaly model: one feature definition for training and live scoring, training, and the artifact."""
