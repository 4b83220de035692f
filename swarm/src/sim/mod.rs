//! Deterministic in-memory swarm simulation.
