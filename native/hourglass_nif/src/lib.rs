//! The NIF Hourglass ships: the built-in native activities, and with the `test-activities`
//! feature the misbehaving ones the ExUnit suite needs. Everything else is the `hourglass`
//! library; an application with native activities of its own declares its NIF the same way.

hourglass::nif!();
