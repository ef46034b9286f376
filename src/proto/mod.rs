//! Wire-format building blocks shared by the protocol front ends: pure serialisation, no IO.

pub mod string;
