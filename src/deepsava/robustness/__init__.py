"""Robustness cards: a fixed, versioned protocol (the worst case over four attacks and their budgets), its run, its card."""
