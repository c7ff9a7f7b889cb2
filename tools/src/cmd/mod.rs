//! One module per subcommand; see `main.rs` for the shape each follows.

pub mod journal;
pub mod replay;
pub mod client;
pub mod demo;
pub mod load;
pub mod run;
