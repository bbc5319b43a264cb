"""Training: classifiers on clean videos and the next-frame predictor (adversarial training is deepsava.defend)."""
