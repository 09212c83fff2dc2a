"""The built-in carrier simulator: network rules (network.py) and its connector."""
