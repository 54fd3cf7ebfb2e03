"""Background agents (DESIGN §9): organizer, boredom-service, sleep-service, ingestor.

`runner.run_agent(profile, NAME)` is what `mh agent run NAME` calls; `records.RunStore` holds the
run records `mh agent status` reads; `registry` names the agents.
"""
