//! A NIF crate that keeps its own global allocator. It is never loaded: the workspace's build
//! (bin/test builds every member) links it, which fails if anything it depends on declares a
//! `#[global_allocator]` too.

#[global_allocator]
static ALLOCATOR: std::alloc::System = std::alloc::System;

hourglass::nif!(own_allocator;);
