//! keel: the command-line tool (under construction).
fn main() {}
