"""Games for discover: each sub-package is one game and registers itself as a plugin."""
