"""An example evosearch fitness plugin."""
