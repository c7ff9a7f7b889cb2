//! One module per subcommand; see `main.rs` for the shape each follows.

pub mod admin;
pub mod client;
pub mod demo;
pub mod feed;
pub mod journal;
pub mod load;
pub mod replay;
pub mod run;
pub mod sim;
pub mod tune;
