"""MMVQShape: interpretable multimodal activity recognition from wrist accelerometers.

VQShape shape tokens per accelerometer channel, plus language sub-actions from an action
codebook, learned so that the signal alone explains a window in shapes and words.
"""

__version__ = "0.1.0"
