[
  inputs: ["{mix,.formatter}.exs", "{config,lib,test,mix,bench,faults}/**/*.{ex,exs}"]
]
