"""deepsava: sparse adversarial attacks on video classifiers and defences against them."""

__version__ = "0.1.0"
