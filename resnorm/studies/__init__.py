"""Studies built on the science: lockstep comparisons and their events, lessons, signal propagation at initialisation, and the figure builders."""
