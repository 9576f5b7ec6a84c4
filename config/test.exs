import Config

config :logger, level: :warning

# The suite's NIF (mix.exs builds it in this environment): the built-in native activities and
# the test ones in native/hourglass_test_nif.
config :hourglass, :native, crate: "hourglass_test_nif"
