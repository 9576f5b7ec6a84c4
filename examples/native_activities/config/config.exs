import Config

# Load this application's NIF (built from native/image_activities) instead of Hourglass's own;
# it carries the built-in native activities too.
config :hourglass, :native, otp_app: :native_activities, crate: "image_activities"
