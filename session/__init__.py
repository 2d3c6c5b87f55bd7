"""neurospell.session: the layer that wires the stages (engine, drivers, live session, simulated participant)."""
