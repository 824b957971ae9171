"""What the mock's process tells its launcher, shared by both sides of the simulator (the server
writes it, the client-side launcher reads it), so the launcher never loads the server's modules."""

BIND_ERROR = "mock NPDB: cannot listen on"  # the launcher reads this line to name the port
