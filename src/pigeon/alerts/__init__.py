"""Alert notifications: what an alert says (:mod:`notice`) and the channels that say it
(:mod:`channels`, one module per kind of outside system)."""
