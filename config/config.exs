import Config

config :logger, :console,
  metadata: [:activity_type, :activity_id, :attempt, :task_queue, :workflow_id, :native_target]

import_config "#{config_env()}.exs"
