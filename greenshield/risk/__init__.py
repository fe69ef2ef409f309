"""Risk sources and enterprise credit: the pure scoring core and its model file."""
