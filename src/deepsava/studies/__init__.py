"""Studies beyond the attack itself: transfer, compression, saliency, next-frame prediction (compute and store; no drawing)."""
