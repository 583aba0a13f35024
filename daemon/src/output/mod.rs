//! A job's output as people and models read it: codexd's event lines
//! rendered compactly, the cache of a finished job's rendering, tails of
//! output.txt, line splitting, and the cap that keeps output.txt bounded.

pub mod lines;
pub mod output_cap;
pub mod render;
pub mod render_cache;
pub mod tail;
