//! The NIF Hourglass ships: the built-in native activities. Everything else is the `hourglass`
//! library; an application with native activities of its own declares its NIF the same way.

hourglass::nif!();
