//! Intake channels.
