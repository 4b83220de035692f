//! The peer protocol as a state machine with no I/O inside (issue 3).
